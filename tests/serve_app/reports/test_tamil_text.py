"""Tamil set in the reports' PDFs extracts as the text it is, in its own order: a vowel sign drawn
before its consonant (ெ, ே, ை) is written after it, each glyph still drawn where HarfBuzz put it."""

from __future__ import annotations

import io
import unicodedata

from pypdf import PdfReader
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.ttfonts import ShapeData
from reportlab.platypus import Paragraph, SimpleDocTemplate

from serve_app.reports import fonts

# places of Tamil Nadu, between them every prebase sign, two-part vowels (ொ, ோ, ௌ) and conjuncts
PLACES = ["செந்துறை", "திருநெல்வேலி", "தென்காசி", "பெரம்பலூர்", "கோயம்புத்தூர்", "செங்கல்பட்டு", "சேலம்",
          "கள்ளக்குறிச்சி", "வேலூர்", "கொள்ளிடம்", "ஸ்ரீரங்கம்", "கௌசல்யா நகர்", "வைகை",
          "ஊராட்சி ஒன்றிய நடுநிலைப் பள்ளி, செந்துறை"]


def _pdf_lines(texts: list[str]) -> list[str]:
    regular, _ = fonts.register()
    style = ParagraphStyle("place", fontName=regular, fontSize=11, leading=16, shaping=1)
    out = io.BytesIO()
    SimpleDocTemplate(out).build([Paragraph(t, style) for t in texts])
    return PdfReader(io.BytesIO(out.getvalue())).pages[0].extract_text().splitlines()


def test_tamil_place_names_extract_exactly():
    # NFC: a two-part vowel comes out as its two signs, which Unicode composes to the vowel
    assert [unicodedata.normalize("NFC", line) for line in _pdf_lines(PLACES)] == PLACES


def _drawn(glyphs: list[tuple[str, ShapeData, float]]) -> tuple[list[tuple[str, float]], float]:
    """Where each glyph is drawn and where the pen ends, as a PDF viewer places them: at the pen
    plus the offset; then on by the advance and any extra spacing."""
    pen, out = 0.0, []
    for glyph, shape, extra in glyphs:
        out.append((glyph, pen + shape.x_offset))
        pen += shape.x_advance + extra
    return out, pen


def test_the_reordered_glyphs_are_drawn_where_they_were():
    sign, sign2 = "\u0BC6", "\u0BC8"
    for text, widths in ((sign + "a", (410, 620)), ("x" + sign + "ab", (300, 410, 620, 500)),
                         (sign + "a" + sign2 + "b", (410, 620, 380, 560)), ("ab", (500, 500))):
        data = [ShapeData(k, w, 0, 7 * k, 0, w) for k, w in enumerate(widths)]
        before = [(g, d, 0.0) for g, d in zip(text, data)]
        after = fonts.logical_order(text, data)
        if sign not in text:
            assert after is None
            continue
        assert sorted(_drawn(after)[0]) == sorted(_drawn(before)[0])  # every glyph where it was
        assert _drawn(after)[1] == _drawn(before)[1]  # and the run ends where it did
        order = "".join(g for g, _, _ in after)
        assert order.index(sign) == order.index("a") + 1  # the sign after its consonant
