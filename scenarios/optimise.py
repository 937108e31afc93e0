"""The optimisation models, one import away: stock rebalancing (LP), the delivery schedule (0-1
programme: LP relaxation with rounding, or MILP) and fund advances (LP), all HiGHS through scipy,
over the arrays of an `OptimiseInput` (built from the scenario engine's `StartState`)."""

from scenarios.optimise_delivery import (
           DeliveryRule,
           DeliverySchedule,
           schedule_block,
           schedule_deliveries,
)
from scenarios.optimise_funds import FundPlan, FundRule, plan_fund_advances
from scenarios.optimise_input import OptimiseInput, from_start, neighbour_arcs
from scenarios.optimise_stock import (
           StockPlan,
           StockRule,
           rebalance_block,
           rebalance_stock,
)

__all__ = ["DeliveryRule", "DeliverySchedule", "FundPlan", "FundRule", "OptimiseInput", "StockPlan", "StockRule",
           "from_start", "neighbour_arcs", "plan_fund_advances", "rebalance_block", "rebalance_stock",
           "schedule_block", "schedule_deliveries"]
