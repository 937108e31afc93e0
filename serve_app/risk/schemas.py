"""The risk domain's response shapes: a school's score with its factors, features and cascade, and
the cascade view of a block or a district. The examples the API's documentation shows are the
fields' own."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from serve_app.shared.fields import UdiseCode
from twin.alert_rules import CAUSES
from twin.risk import FACTORS, LEVELS, NEIGHBOURS

Level = Literal[LEVELS]
FactorName = Literal[(*FACTORS, NEIGHBOURS)]
Cause = Literal[CAUSES]


class Factor(BaseModel):
    """One factor's share of the score: severity (0-1) x weight; the neighbours' factor is the
    points the cascade adds."""

    factor: FactorName = Field(examples=["stock"])
    points: float = Field(ge=0, examples=[12.0])
    weight: float = Field(ge=0, examples=[30.0])


class Features(BaseModel):
    """The figures the factors are scored from (None where unknown)."""

    stock_days: float | None = Field(description="rice left, in school days at the school's own recent use",
                                     examples=[10.2])
    meal_share: float | None = Field(description="meals served / enrolment, mean over the reported school days of "
                                                 "the last week", examples=[0.86])
    days_since_report: float | None = Field(
        description="school days after the last report up to today (weekends, holidays and vacations not "
                    "counted: Friday's report reads 1 on Monday); 0 when closed today; never reported: school days "
                    "since the twin's first day", examples=[0])
    no_meal_streak: float | None = Field(description="latest reported school days in a row without a meal",
                                         examples=[0])
    no_meal_days_30: float | None = Field(description="reported school days without a meal in the last 30 days",
                                          examples=[0])
    funds_days: float | None = Field(description="school balance / daily meal cost", examples=[41.3])
    days_since_inspection: float | None = Field(examples=[None])
    inspection_issues: float | None = Field(description="1 when the last inspection found issues", examples=[None])
    days_since_shortage: float | None = Field(examples=[None])
    closed_today: float | None = Field(description="1 when the school is closed today", examples=[0])
    utilisation_rule_days: float | None = Field(
        description="school days the 75% release rule falls short by the end of the financial year at the recent "
                    "meal cost (> 0: the next instalment will be refused; null before any release)", examples=[-40])


class SchoolStep(BaseModel):
    """A school on the cascade's path, with its own risk and the pressure it is under (0-100)."""

    school_id: UdiseCode
    local_risk: float = Field(examples=[85.0])
    pressure: float = Field(examples=[71.2])


class DepotStep(BaseModel):
    """A block's depot on the cascade's path (schools of a block share their depot)."""

    depot_of_block: str = Field(examples=["Sendurai"])
    local_risk: float = Field(examples=[70.0])
    pressure: float = Field(examples=[65.0])


class HiddenStep(BaseModel):
    """A step outside the reader's area: it keeps its place in the path but says nothing of the place."""

    outside_your_area: Literal[True]


Step = SchoolStep | DepotStep | HiddenStep


class Cascade(BaseModel):
    flagged: bool = Field(description="the school's risk is driven by its neighbours'")
    pressure: float = Field(description="the neighbour pressure on the school (0-100)", examples=[46.5])
    path: list[Step] = Field(description="a flagged school's path to the source of its neighbour pressure")


class ScoreDay(BaseModel):
    date: str = Field(examples=["2025-06-04"])
    score: float = Field(examples=[46.5])


class LearnedRisk(BaseModel):
    """The served learned model's probability of a shortage or a day without a meal in the next 7
    days, with the contributions that add up to it."""

    version: str = Field(examples=["v3"])
    model: str = Field(examples=["gbm"])
    day: str = Field(description="the last day the model saw", examples=["2025-06-04"])
    probability_7d: float = Field(ge=0, le=1, examples=[0.18])
    base: float = Field(examples=[0.07])
    top_contributions: dict[str, float] = Field(description="the largest contributions, by feature",
                                                examples=[{"stock_days": 0.08, "no_meal_days_30": 0.03}])
    other_contributions: float = Field(description="the rest, summed", examples=[0.0])


class RiskFactors(BaseModel):
    """A school's score and the factors behind it: the points add up to the score."""

    school_id: UdiseCode
    score: float = Field(ge=0, le=100, examples=[46.5])
    level: Level = Field(examples=["medium"])
    local_score: float = Field(description="the school's own factors' points, without its neighbours'",
                               examples=[12.0])
    factors: list[Factor]
    features: Features


class SchoolRisk(RiskFactors):
    """A school's rule-based risk: score, level, factors, the cascade, its open alerts and recent
    scores, and the learned model's probability beside it."""

    district: str = Field(examples=["Ariyalur"])
    block: str = Field(examples=["Sendurai"])
    cascade: Cascade
    open_alerts: list[Cause] = Field(description="the causes of the school's open alerts", examples=[["stock_low"]])
    history: list[ScoreDay] = Field(description="the score of each recent day, oldest first")
    learned: LearnedRisk | None = Field(description="none while no learned model is served")


class FlaggedSchool(BaseModel):
    school_id: UdiseCode
    score: float = Field(examples=[46.5])
    level: Level = Field(examples=["medium"])
    local_score: float = Field(examples=[12.0])
    neighbour_points: float = Field(examples=[34.5])
    sources: list[Step] = Field(description="the source of the neighbour pressure")


class DistrictCascade(BaseModel):
    """The cascade-flagged schools of a place, most neighbour-driven first."""

    district: str = Field(examples=["Ariyalur"])
    schools: int = Field(ge=0, examples=[112])
    by_level: dict[Level, int] = Field(examples=[{"low": 98, "medium": 9, "high": 4, "critical": 1}])
    cascade_flagged: int = Field(ge=0, examples=[3])
    shown: int = Field(ge=0, description="flagged schools listed (at most 200)", examples=[1])
    flagged: list[FlaggedSchool]


class BlockCascade(DistrictCascade):
    block: str = Field(examples=["Sendurai"])
