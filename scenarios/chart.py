"""A PNG of a scenario's KPI trajectories: each plan's daily mean with its 95% band (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

from scenarios.result import ScenarioResult

CHART_KPIS = ("meals_served", "children_without_meal", "stockout_school_days", "days_of_stock")


def trajectory_chart(result: ScenarioResult, path: str | Path, kpis: tuple[str, ...] = CHART_KPIS) -> Path:
    """Write one panel per KPI, one line and band per plan, to `path`; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, axes = plt.subplots(len(kpis), 1, figsize=(10, 2.6 * len(kpis)), sharex=True, constrained_layout=True)
    for ax, kpi in zip(axes, kpis):
        for plan in result.plans:
            band = plan.daily[kpi]
            line, = ax.plot(result.dates, band.mean, label=plan.name, linewidth=1.6)
            ax.fill_between(result.dates, band.low, band.high, color=line.get_color(), alpha=0.25, linewidth=0)
        ax.set_ylabel(kpi.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[0].set_title(f"{result.name}: {result.schools:,} schools, {result.replications} replications, 95% bands")
    axes[0].legend(loc="best", fontsize="small")
    fig.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
