"""The PDF reports' charts, drawn with matplotlib (Agg) into PNG bytes. Each takes plain figures
(lists, dicts) and returns the PNG; the same figures give the same bytes (Agg draws
deterministically, and the PNG carries no metadata)."""

from __future__ import annotations

import io
from collections.abc import Sequence

CHART_DPI = 150
RISK_COLOURS = {"low": "#4caf50", "medium": "#ffb300", "high": "#f4511e", "critical": "#b71c1c"}
LEVELS = ("low", "medium", "high", "critical")
# rice stock in school days, grouped as an officer reads it: out, critical, short, enough, ample
STOCK_BINS = ((0.0, 0.0, "none"), (0.0, 3.0, "under 3"), (3.0, 7.0, "3 to 7"), (7.0, 15.0, "7 to 15"),
              (15.0, 30.0, "15 to 30"), (30.0, float("inf"), "30 or more"))


def attendance(series: dict) -> bytes:
    """Children present and meals served each day against the enrolment."""
    fig = _figure(7.2, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    dates = [d["date"] for d in series["days"]]
    ax.plot(dates, [d["present"] for d in series["days"]], marker="o", markersize=3, label="children present")
    ax.plot(dates, [d["meals"] for d in series["days"]], marker="s", markersize=3, label="meals served")
    ax.axhline(series["enrolment"], color="grey", linestyle="--", linewidth=1, label="enrolment")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("children")
    ax.legend(loc="lower left", fontsize=8)
    fig.autofmt_xdate()
    return _png(fig)


def risk_by_area(rows: Sequence[dict], name_key: str) -> bytes:
    """Stacked bars: each block's (or district's) schools by risk level."""
    rows = [r for r in rows if r["by_level"]]
    fig = _figure(7.2, max(2.4, 0.32 * len(rows) + 1.0))
    ax = fig.add_subplot(1, 1, 1)
    names = [r[name_key] for r in rows]
    left = [0] * len(rows)
    for level in LEVELS:
        counts = [r["by_level"].get(level, 0) for r in rows]
        ax.barh(names, counts, left=left, color=RISK_COLOURS[level], label=level)
        left = [a + c for a, c in zip(left, counts)]
    ax.invert_yaxis()
    ax.set_xlabel("schools")
    ax.legend(loc="lower right", fontsize=8, ncols=4)
    return _png(fig)


def stock_bins(stock_days: Sequence[float | None]) -> list[tuple[str, int]]:
    """How many schools hold rice for how many school days (a school with no meal bill: not counted)."""
    known = [v for v in stock_days if v is not None]
    out = [(STOCK_BINS[0][2], sum(1 for v in known if v <= 0.0))]
    out += [(label, sum(1 for v in known if low < v <= high)) for low, high, label in STOCK_BINS[1:]]
    return out


def stock_days(bins: Sequence[tuple[str, int]]) -> bytes:
    fig = _figure(7.2, 2.8)
    ax = fig.add_subplot(1, 1, 1)
    colours = ["#b71c1c", "#f4511e", "#ffb300", "#9ccc65", "#4caf50", "#2e7d32"]
    ax.bar([b[0] for b in bins], [b[1] for b in bins], color=colours[: len(bins)])
    ax.set_xlabel("rice stock, school days at the current meal rate")
    ax.set_ylabel("schools")
    return _png(fig)


def risk_map(points: Sequence[tuple[float, float, str]]) -> bytes:
    """Schools at their coordinates (longitude, latitude), coloured by risk level, the riskiest on top."""
    fig = _figure(7.2, 6.0)
    ax = fig.add_subplot(1, 1, 1)
    for level in LEVELS:
        xs = [p[1] for p in points if p[2] == level]
        ys = [p[0] for p in points if p[2] == level]
        if xs:
            ax.scatter(xs, ys, s=4 if len(points) > 2000 else 12, color=RISK_COLOURS[level], label=f"{level} ({len(xs)})",
                       linewidths=0)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="best", fontsize=8, markerscale=2)
    return _png(fig)


def funds(rows: Sequence[tuple[str, float, float]]) -> bytes:
    """Funds released to schools against what they have utilised, by block or district (INR lakh)."""
    fig = _figure(7.2, max(2.4, 0.3 * len(rows) + 1.0))
    ax = fig.add_subplot(1, 1, 1)
    names = [r[0] for r in rows]
    y = range(len(rows))
    ax.barh([k - 0.2 for k in y], [r[1] / 1e5 for r in rows], height=0.4, color="#1e88e5", label="released")
    ax.barh([k + 0.2 for k in y], [r[2] / 1e5 for r in rows], height=0.4, color="#fb8c00", label="utilised")
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.set_xlabel("INR lakh")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def forecast(days: Sequence[dict]) -> bytes:
    """Meals forecast for the coming school days: the median and the P10-P90 band."""
    fig = _figure(7.2, 2.8)
    ax = fig.add_subplot(1, 1, 1)
    dates = [d["date"] for d in days]
    ax.fill_between(dates, [d["p10"] for d in days], [d["p90"] for d in days], color="#90caf9", label="P10 to P90")
    ax.plot(dates, [d["p50"] for d in days], marker="o", markersize=3, color="#0d47a1", label="median")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("meals")
    ax.legend(loc="lower left", fontsize=8)
    return _png(fig)


def _figure(width: float, height: float):  # noqa: ANN202 - matplotlib.figure.Figure, imported late
    from matplotlib.figure import Figure  # a Figure without pyplot: no global state, safe in threads

    return Figure(figsize=(width, height), layout="tight")


def _png(fig) -> bytes:  # noqa: ANN001
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buf.getvalue()
