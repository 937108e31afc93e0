"""The schools CSV: one format for bulk import and export, so an export re-imports unchanged."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from twin.errors import InvalidInput

# `total_students` is not a column: it is always the sum of the three enrolment bands.
COLUMNS = (
    "id", "name", "district", "block", "address", "latitude", "longitude", "enrolment_primary",
    "enrolment_upper_primary", "enrolment_secondary", "capacity", "has_hostel", "breakfast_scheme", "depot_id",
    "risk_level", "is_active",
)
REQUIRED = frozenset(COLUMNS) - {"address", "has_hostel", "breakfast_scheme", "risk_level", "is_active"}
MEDIA_TYPE = "text/csv"
EXAMPLE = (
    ",".join(COLUMNS) + "\n"
    "33010100101,PUMS Ariyalur East,Ariyalur,Ariyalur,,11.14,79.08,84,30,0,140,false,true,DEPOT-0,low,true\n"
)


@dataclass(frozen=True)
class RawRow:
    """One data row: its line in the file, its non-blank cells by column, or why it has none."""

    line: int
    values: dict[str, str]
    problem: str | None = None


def parse(body: bytes) -> list[RawRow]:
    """Every data row of a schools CSV. Blank cells are left out, so a model's defaults apply.
    InvalidInput if the file as a whole is unusable (encoding, header)."""
    try:
        text = body.decode("utf-8-sig")  # spreadsheets often prepend a byte-order mark
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise InvalidInput("the file is empty: send a header row and at least one school")
    header = [h.strip().lower() for h in header]
    missing = sorted(REQUIRED - set(header))
    unknown = sorted(set(header) - set(COLUMNS))
    if missing or unknown or len(set(header)) != len(header):
        raise InvalidInput("the header row does not match the schools CSV format",
                           {"missing": missing, "unknown": unknown, "expected": list(COLUMNS)})
    rows = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                rows.append(RawRow(line, {}, f"{len(values)} cells where the header has {len(header)}"))
                continue
            rows.append(RawRow(line, {k: v.strip() for k, v in zip(header, values) if v.strip() != ""}))
    except csv.Error as exc:
        raise InvalidInput(f"the file is not valid CSV at line {reader.line_num}: {exc}", {"line": reader.line_num}) from None
    return rows


def format_rows(rows: Iterable[dict], header: bool = True) -> str:
    """CSV text of school rows (as the `schools` table holds them), header first if asked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in COLUMNS])
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)

