"""The PDF report of an area, laid out with ReportLab from what `ReportService.pdf_content` gathered,
with matplotlib charts (Agg, embedded as PNG).

The same content gives the same bytes: ReportLab in invariant mode with the document dated by the
report's last day, PNGs without metadata (Agg draws deterministically), and the generation time
printed from the content, never read from the clock here. Text is real text (searchable); the
fonts are the PDF standard fonts, which cover the project's (English) place names but not Tamil
script: a Tamil name would need a TrueType font with Tamil glyphs registered here."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Image,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

CHART_DPI = 150
RISK_COLOURS = {"low": "#4caf50", "medium": "#ffb300", "high": "#f4511e", "critical": "#b71c1c"}
LEVELS = ("low", "medium", "high", "critical")


def render(report: dict) -> bytes:
    """The PDF of `report` (as `ReportService.pdf_content` gathers it)."""
    first, last = report["period"]
    generated = _stamp(report["generated_at"])
    heading = f"{report['title']}, {report['place']}"
    footer = f"{heading}  |  period {first.isoformat()} to {last.isoformat()}  |  generated {generated}"
    created = f"D:{last.strftime('%Y%m%d')}000000+00'00'"

    def on_page(canvas, doc) -> None:
        canvas.setDateFormatter(lambda *_: created)
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(15 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, invariant=1, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=18 * mm, title=f"Noon-meal report: {heading}",
                            author="mealtwin", subject=f"{first.isoformat()} to {last.isoformat()}",
                            creator="mealtwin")
    doc.build(_story(report, generated), onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue()


def _story(report: dict, generated: str) -> list:
    styles = getSampleStyleSheet()
    small = ParagraphStyle("small", parent=styles["BodyText"], fontSize=8, leading=10)
    first, last = report["period"]
    as_of = report["as_of"].isoformat() if report["as_of"] else "no report yet"
    story: list[Any] = [
        Spacer(1, 40 * mm),
        Paragraph("Noon-meal programme report", styles["Title"]),
        Paragraph(escape(report["title"]), styles["Heading1"]),
        Paragraph(escape(report["place"]), styles["Heading2"]),
        Spacer(1, 8 * mm),
        Paragraph(f"Period: {first.isoformat()} to {last.isoformat()}", styles["BodyText"]),
        Paragraph(f"The twin's day (live figures as of): {as_of}", styles["BodyText"]),
        Paragraph(f"Generated: {generated}", styles["BodyText"]),
        Spacer(1, 10 * mm),
        Paragraph("Key figures", styles["Heading2"]),
        _table([("Figure", "Value"), *((label, _value(v)) for label, v in report["figures"])], (110 * mm, 60 * mm)),
    ]
    if report.get("finance_basis"):
        story.append(Paragraph(escape("Funds: " + report["finance_basis"] + "."), small))
    story.append(PageBreak())

    series = report["series"]
    story.append(Paragraph("Attendance and meals against enrolment", styles["Heading2"]))
    if series["days"]:
        story.append(_image(_series_chart(series), 180 * mm, 85 * mm))
        rows = [("Date", "Schools reporting", "Present", "Meals")] + [
            (d["date"].isoformat(), str(d["reported"]), str(d["present"]), str(d["meals"])) for d in series["days"]]
        story.append(_table(rows, (40 * mm, 40 * mm, 40 * mm, 40 * mm), font=7))
    if series["note"]:
        story.append(Paragraph(escape(series["note"]), small))
    story.append(Paragraph(f"Enrolment (as the twin holds it now): {series['enrolment']}", small))

    if report["level"] == "district" and report["blocks"]:
        story.append(PageBreak())
        story.append(Paragraph("Risk by block", styles["Heading2"]))
        if any(b["by_level"] for b in report["blocks"]):
            story.append(_image(_risk_chart(report["blocks"]), 180 * mm, max(60, 8 * len(report["blocks"]) + 25) * mm))
        else:
            story.append(Paragraph("Risk scoring is not running in this twin: no risk by block.", small))
        story.append(Paragraph("Ranking of blocks", styles["Heading2"]))
        story.append(Paragraph("Blocks ordered by the share of their schools at high or critical risk, then by "
                               "the lowest attendance rate on the twin's day.", small))
        story.append(_table(_ranking(report["blocks"]), None, font=7))

    story.append(Paragraph("Open alerts", styles["Heading2"]))
    alerts = report["alerts"]
    if alerts["rows"]:
        shown = len(alerts["rows"])
        story.append(Paragraph(f"{alerts['total']} open; the newest {shown} listed." if alerts["total"] > shown
                               else f"{alerts['total']} open.", small))
        rows = [("Raised", "Severity", "Where", "Alert")] + [
            (a["created_at"][:10], a["severity"], a["school_id"] or f"{a['block']} block",
             Paragraph(escape(a["title"]), small)) for a in alerts["rows"]]
        story.append(_table(rows, (22 * mm, 20 * mm, 32 * mm, 106 * mm), font=7))
    else:
        story.append(Paragraph("No open alerts.", small))
    return story


def _ranking(blocks: list[dict]) -> list[tuple]:
    def at_risk(b: dict) -> float:
        levels = b["by_level"] or {}
        return (levels.get("high", 0) + levels.get("critical", 0)) / max(b["view"]["schools"], 1)

    def key(b: dict) -> tuple:
        rate = b["view"]["attendance_rate"]
        return (-at_risk(b), rate if rate is not None else 2.0, b["block"])

    rows: list[tuple] = [("#", "Block", "Schools", "Enrolment", "Attendance", "Stock days", "Not reporting",
                          "High+critical", "Balance, INR")]
    for k, b in enumerate(sorted(blocks, key=key), start=1):
        v, levels = b["view"], b["by_level"]
        rows.append((str(k), b["block"], str(v["schools"]), str(v["enrolment"]), _value(v["attendance_rate"]),
                     _value(v["stock_days"]), str(v["stale"]),
                     "-" if levels is None else str(levels.get("high", 0) + levels.get("critical", 0)),
                     _value(v["funds"]["school_balance_inr"])))
    return rows


def _series_chart(series: dict) -> bytes:
    fig, plt = _figure(7.2, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    dates = [d["date"] for d in series["days"]]
    ax.plot(dates, [d["present"] for d in series["days"]], marker="o", markersize=3, label="children present")
    ax.plot(dates, [d["meals"] for d in series["days"]], marker="s", markersize=3, label="meals served")
    ax.axhline(series["enrolment"], color="grey", linestyle="--", linewidth=1, label="enrolment")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("children")
    ax.legend(loc="lower left", fontsize=8)
    fig.autofmt_xdate()
    return _png(fig, plt)


def _risk_chart(blocks: list[dict]) -> bytes:
    rows = [b for b in blocks if b["by_level"]]
    fig, plt = _figure(7.2, max(2.4, 0.32 * len(rows) + 1.0))
    ax = fig.add_subplot(1, 1, 1)
    names = [b["block"] for b in rows]
    left = [0] * len(rows)
    for level in LEVELS:
        counts = [b["by_level"].get(level, 0) for b in rows]
        ax.barh(names, counts, left=left, color=RISK_COLOURS[level], label=level)
        left = [a + c for a, c in zip(left, counts)]
    ax.invert_yaxis()
    ax.set_xlabel("schools")
    ax.legend(loc="lower right", fontsize=8, ncols=4)
    return _png(fig, plt)


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="tight"), plt


def _png(fig, plt) -> bytes:
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "mealtwin", "path.simplify": True}):
        fig.savefig(buf, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buf.getvalue()


def _image(png: bytes, width: float, height: float) -> Image:
    return Image(io.BytesIO(png), width=width, height=height)


def _table(rows: list, widths: tuple | None, font: float = 9) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), "Helvetica", font), ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", font),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.lightgrey),
    ]))
    return table


def _value(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) >= 100 or v != round(v, 4) else f"{v:g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
