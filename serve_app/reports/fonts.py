"""The PDF reports' typeface: Noto Sans Tamil (SIL Open Font License 1.1, `fonts/OFL.txt`), which
holds Latin and Tamil glyphs, so a school or place name in Tamil script prints as itself and not as
empty boxes. Tamil needs shaping (vowel signs placed before their consonant, conjuncts, ligatures):
ReportLab shapes text set in a `shapable` TrueType font with HarfBuzz (uharfbuzz), in paragraphs
whose style asks for it; `text` wraps a table cell that needs it in such a paragraph.

The TTFs in `fonts/` are the Regular (400) and Bold (700) instances of the upstream variable font
(wdth 100), cut with fontTools' instancer: ReportLab embeds static TrueType outlines only."""

from __future__ import annotations

import functools
from pathlib import Path

FOLDER = Path(__file__).with_name("fonts")
REGULAR, BOLD = "ReportSans", "ReportSans-Bold"


@functools.cache
def register() -> tuple[str, str]:
    """Registers the fonts with ReportLab once per process; returns (regular, bold) font names."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(REGULAR, str(FOLDER / "NotoSansTamil-Regular.ttf"), shapable=True))
    pdfmetrics.registerFont(TTFont(BOLD, str(FOLDER / "NotoSansTamil-Bold.ttf"), shapable=True))
    # <b> in a paragraph picks the bold face
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, REGULAR)
    addMapping(REGULAR, 1, 1, BOLD)
    return REGULAR, BOLD


def needs_shaping(text: str) -> bool:
    """Text outside ASCII may need HarfBuzz (Tamil does); plain ASCII never does."""
    return not text.isascii()
