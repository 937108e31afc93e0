"""CSV text for spreadsheets: UTF-8, a header row, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

# a cell beginning with one of these is read as a formula (or a DDE call) by spreadsheets
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN = (int, float, type(None))  # exactly these types (a bool is not written as csv would)


def safe_cell(value: object) -> str:
    """The cell's text: blank for None, true/false for booleans, and a single quote before text a
    spreadsheet would run as a formula. Numbers are written as numbers (a negative one keeps its
    sign: it is a number, not a formula)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def lines(rows: Iterable[Sequence[object]], header: Sequence[str] | None = None) -> str:
    """CSV text of `rows` (each a sequence of cells), `header` first when given."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header is not None:
        writer.writerow([safe_cell(h) for h in header])
    # the csv module writes numbers as str() (repr for floats) and None as blank, as safe_cell
    # would: only text and booleans go through it (a report writes a million cells)
    writer.writerows([v if type(v) in _PLAIN else safe_cell(v) for v in row] for row in rows)
    return out.getvalue()


def guarded(values: Sequence[object]) -> list[Any]:
    """A column's cells as `lines` writes them: text and booleans through `safe_cell`, numbers and
    blanks as they are. A report written a column at a time guards each text column once."""
    return [v if type(v) in _PLAIN else safe_cell(v) for v in values]


def prepared_lines(rows: Iterable[Sequence[object]]) -> str:
    """CSV text of rows whose cells are already guarded (`guarded`, or numbers and blanks only)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()
