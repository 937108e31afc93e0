"""The PDF report of an area, laid out with ReportLab from what `ReportService.pdf_content` gathered,
with matplotlib charts (`charts`, embedded as PNG).

The same content gives the same bytes: ReportLab in invariant mode with the document dated by the
report's last day, PNGs without metadata, and the generation time printed from the content, never
read from the clock here. Text is real text (searchable) in Noto Sans Tamil (`fonts`), shaped by
HarfBuzz wherever it is not plain ASCII, so Tamil names print correctly."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    Image,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from serve_app.reports import charts, fonts

FOOTER_HEADING_CHARS = 48  # a longer title is cut in the footer, which the page number shares
TABLE_CHUNK_ROWS = 200
CHILD_AREA = {"state": "district", "district": "block"}  # whose ranking a report shows


def render(report: dict) -> bytes:
    """The PDF of `report` (as `ReportService.pdf_content` gathers it)."""
    regular, _ = fonts.register()
    first, last = report["period"]
    generated = _stamp(report["generated_at"])
    heading = f"{report['title']}, {report['place']}"
    short = heading if len(heading) <= FOOTER_HEADING_CHARS else heading[: FOOTER_HEADING_CHARS - 3] + "..."
    footer = f"{short}  |  period {first.isoformat()} to {last.isoformat()}  |  generated {generated}"
    created = f"D:{last.strftime('%Y%m%d')}000000+00'00'"

    # a paragraph, not drawString: the footer's title may be Tamil, which only paragraphs shape
    footer_style = ParagraphStyle("report-footer", fontName=regular, fontSize=7.5, leading=9,
                                  textColor=colors.grey, shaping=int(fonts.needs_shaping(footer)))

    def on_page(canvas, doc) -> None:  # noqa: ANN001
        canvas.setDateFormatter(lambda *_: created)
        canvas.saveState()
        line = Paragraph(escape(footer), footer_style)
        line.wrap(A4[0] - 50 * mm, 20 * mm)
        line.drawOn(canvas, 15 * mm, 10 * mm - 2)
        canvas.setFont(regular, 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, invariant=1, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=18 * mm, title=f"Noon-meal report: {heading}",
                            author="mealtwin", subject=f"{first.isoformat()} to {last.isoformat()}",
                            creator="mealtwin")
    doc.build(_Story(report, generated).flowables(), onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue()


class _Story:
    """The report's flowables, section by section."""

    def __init__(self, report: dict, generated: str) -> None:
        regular, bold = fonts.register()
        base = getSampleStyleSheet()
        self.report, self.generated = report, generated
        self.styles = {name: ParagraphStyle(f"report-{name}", parent=base[name], fontName=bold if name != "BodyText"
                                            else regular)
                       for name in ("Title", "Heading1", "Heading2", "BodyText")}
        self.small = ParagraphStyle("report-small", parent=self.styles["BodyText"], fontSize=8, leading=10)
        self.cell = ParagraphStyle("report-cell", parent=self.small, fontSize=7, leading=8.5)
        # HarfBuzz costs a call a word: only text that is not plain ASCII is set in a shaping style
        self.shaped = {id(style): ParagraphStyle(style.name + "-shaped", parent=style, shaping=1)
                       for style in (*self.styles.values(), self.small, self.cell)}
        self.regular, self.bold = regular, bold

    def flowables(self) -> list:
        story = self._title()
        story += self._attendance()
        story += self._stock()
        story += self._risk()
        story += self._funds()
        story += self._forecast()
        story += self._alerts()
        return story

    def _p(self, text: str, style: str | None = None) -> Paragraph:
        return self._para(text, self.styles[style] if style else self.small)

    def _para(self, text: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(escape(text), self.shaped[id(style)] if fonts.needs_shaping(text) else style)

    def _cell(self, text: str, width: float, font: float) -> str | Paragraph:
        """A table cell: the text itself when it is ASCII and fits its column (cheap to lay out), else
        a paragraph that wraps (and shapes) it."""
        if fonts.needs_shaping(text) or stringWidth(text, self.regular, font) > width - 6:
            return self._para(text, self.cell)
        return text

    def _title(self) -> list:
        r = self.report
        first, last = r["period"]
        as_of = r["as_of"].isoformat() if r["as_of"] else "no report yet"
        story: list[Any] = [
            Spacer(1, 40 * mm), self._p("Noon-meal programme report", "Title"), self._p(r["title"], "Heading1"),
            self._p(r["place"], "Heading2"), Spacer(1, 8 * mm),
            self._p(f"Period: {first.isoformat()} to {last.isoformat()}", "BodyText"),
            self._p(f"The twin's day (live figures as of): {as_of}", "BodyText"),
            self._p(f"Generated: {self.generated}", "BodyText"), Spacer(1, 10 * mm),
            self._p("Key figures", "Heading2"),
            self._table([("Figure", "Value"), *((label, _value(v)) for label, v in r["figures"])], (110 * mm, 60 * mm)),
        ]
        if r.get("finance_basis"):
            story.append(self._p("Funds: " + r["finance_basis"] + "."))
        story.append(PageBreak())
        return story

    def _attendance(self) -> list:
        series = self.report["series"]
        story: list[Any] = [self._p("Attendance and meals against enrolment", "Heading2")]
        if series["days"]:
            story.append(_image(charts.attendance(series), 180 * mm, 85 * mm))
            rows = [("Date", "Schools reporting", "Present", "Meals")] + [
                (d["date"].isoformat(), str(d["reported"]), str(d["present"]), str(d["meals"])) for d in series["days"]]
            story += self._tables(rows, (40 * mm, 40 * mm, 40 * mm, 40 * mm), font=7)
        if series["note"]:
            story.append(self._p(series["note"]))
        story.append(self._p(f"Enrolment (as the twin holds it now): {series['enrolment']}"))
        return story

    def _stock(self) -> list:
        bins = self.report.get("stock_bins")
        if not bins:
            return []
        rows = [("Rice stock, school days", "Schools"), *((label, str(n)) for label, n in bins)]
        return [self._p("Stock days", "Heading2"),
                self._p("Each school's rice stock in school days at its current meal rate, on the twin's day."),
                _image(charts.stock_days(bins), 180 * mm, 70 * mm), self._table(rows, (60 * mm, 30 * mm), font=7)]

    def _risk(self) -> list:
        r = self.report
        child = CHILD_AREA.get(r["level"])
        story: list[Any] = []
        if child and r["children"]:
            story += [PageBreak(), self._p(f"Risk by {child}", "Heading2")]
            if any(c["by_level"] for c in r["children"]):
                height = max(60, 8 * len(r["children"]) + 25)
                story.append(_image(charts.risk_by_area(r["children"], "name"), 180 * mm, min(height, 230) * mm))
            else:
                story.append(self._p(f"Risk scoring is not running in this twin: no risk by {child}."))
            story += [self._p(f"Ranking of {child}s", "Heading2"),
                      self._p(f"{child.capitalize()}s ordered by the share of their schools at high or critical risk, "
                              "then by the lowest attendance rate on the twin's day."),
                      self._table(_ranking(r["children"], child), None, font=7)]
        points = r.get("risk_points")
        if points:
            story += [PageBreak(), self._p("Map of schools by risk", "Heading2"),
                      self._p("Each school at its coordinates, coloured by the rules' risk level now."),
                      _image(charts.risk_map(points), 180 * mm, 150 * mm)]
        return story

    def _funds(self) -> list:
        rows = self.report.get("funds_by_area")
        if not rows:
            return []
        what = {"state": "district", "district": "block", "block": "school"}.get(self.report["level"], "school")
        table = [("Where", "Released, INR", "Utilised, INR", "Utilised share")] + [
            (name, _value(rel), _value(used), _value(round(used / rel, 4)) if rel else "-") for name, rel, used in rows]
        return [PageBreak(), self._p("Funds released against utilised", "Heading2"),
                self._p(f"By {what}: released to schools, and their meal cost plus other spending, as the twin "
                        "holds them now (INR lakh in the chart)."),
                _image(charts.funds(rows), 180 * mm, min(max(60, 7 * len(rows) + 25), 230) * mm),
                *self._tables(table, (70 * mm, 40 * mm, 40 * mm, 30 * mm), font=7)]

    def _forecast(self) -> list:
        f = self.report.get("forecast")
        if f is None:
            return []
        story: list[Any] = [self._p("Forecast of the coming week", "Heading2")]
        if f["days"]:
            story.append(_image(charts.forecast(f["days"]), 180 * mm, 70 * mm))
            rows = [("Date", "P10", "Median", "P90")] + [
                (d["date"].isoformat(), _value(d["p10"]), _value(d["p50"]), _value(d["p90"])) for d in f["days"]]
            story.append(self._table(rows, (40 * mm, 35 * mm, 35 * mm, 35 * mm), font=7))
        if f["note"]:
            story.append(self._p(f["note"]))
        return story

    def _alerts(self) -> list:
        alerts = self.report["alerts"]
        story: list[Any] = [self._p("Open alerts", "Heading2")]
        if alerts["rows"]:
            shown = len(alerts["rows"])
            story.append(self._p(f"{alerts['total']} open; the newest {shown} listed." if alerts["total"] > shown
                                 else f"{alerts['total']} open."))
            rows = [("Raised", "Severity", "Where", "Alert")] + [
                (a["created_at"][:10], a["severity"], a["school_id"] or f"{a['block']} block",
                 self._cell(a["title"], 106 * mm, 7)) for a in alerts["rows"]]
            story += self._tables(rows, (22 * mm, 20 * mm, 32 * mm, 106 * mm), font=7)
        else:
            story.append(self._p("No open alerts."))
        return story

    def _tables(self, rows: list, widths: tuple | None, font: float = 9) -> list[Table]:
        """A long table as tables of `TABLE_CHUNK_ROWS` rows, each with the header: ReportLab lays
        out a table again for every page it is split over, so one of 10,000 rows would cost the
        square of its pages."""
        header, body = rows[0], rows[1:]
        return [self._table([header, *body[k:k + TABLE_CHUNK_ROWS]], widths, font)
                for k in range(0, max(len(body), 1), TABLE_CHUNK_ROWS)]

    def _table(self, rows: list, widths: tuple | None, font: float = 9) -> Table:
        # a cell that is not plain ASCII (a Tamil name) is set as a shaped paragraph
        rows = [[self._para(c, self.cell) if isinstance(c, str) and fonts.needs_shaping(c) else c for c in row]
                for row in rows]
        table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(TableStyle([
            ("FONT", (0, 0), (-1, -1), self.regular, font), ("FONT", (0, 0), (-1, 0), self.bold, font),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")), ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.lightgrey),
        ]))
        return table


def _ranking(children: list[dict], child: str) -> list[tuple]:
    def at_risk(c: dict) -> float:
        levels = c["by_level"] or {}
        return (levels.get("high", 0) + levels.get("critical", 0)) / max(c["view"]["schools"], 1)

    def key(c: dict) -> tuple:
        rate = c["view"]["attendance_rate"]
        return (-at_risk(c), rate if rate is not None else 2.0, c["name"])

    rows: list[tuple] = [("#", child.capitalize(), "Schools", "Enrolment", "Attendance", "Stock days", "Not reporting",
                          "High+critical", "Balance, INR")]
    for k, c in enumerate(sorted(children, key=key), start=1):
        v, levels = c["view"], c["by_level"]
        rows.append((str(k), c["name"], str(v["schools"]), str(v["enrolment"]), _value(v["attendance_rate"]),
                     _value(v["stock_days"]), str(v["stale"]),
                     "-" if levels is None else str(levels.get("high", 0) + levels.get("critical", 0)),
                     _value(v["funds"]["school_balance_inr"])))
    return rows


def _image(png: bytes, width: float, height: float) -> Image:
    return Image(io.BytesIO(png), width=width, height=height)


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
