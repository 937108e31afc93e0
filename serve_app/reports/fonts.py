"""The PDF reports' typeface: Noto Sans Tamil (SIL Open Font License 1.1, `fonts/OFL.txt`), which
holds Latin and Tamil glyphs, so a school or place name in Tamil script prints as itself and not as
empty boxes. Tamil needs shaping (vowel signs placed before their consonant, conjuncts, ligatures):
ReportLab shapes text set in a `shapable` TrueType font with HarfBuzz (uharfbuzz), in paragraphs
whose style asks for it; `text` wraps a table cell that needs it in such a paragraph.

Shaping draws a syllable with glyphs the font maps to no character (டு, ஸ்ரீ, the half form of
ட்); ReportLab gives them private-use codes, and a PDF reader would extract nothing for them. So
the fonts' ToUnicode maps say which text each such glyph stands for, found by shaping every
consonant with every vowel sign once (`_glyph_texts`). A vowel sign drawn before its consonant
(செ) is still extracted in the order drawn.

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

    from reportlab.pdfbase import ttfonts

    for name, file in ((REGULAR, "NotoSansTamil-Regular.ttf"), (BOLD, "NotoSansTamil-Bold.ttf")):
        font = TTFont(name, str(FOLDER / file), shapable=True)
        pdfmetrics.registerFont(font)
        _FACES[font.face.name.decode("latin-1")] = (font.face, _glyph_texts(FOLDER / file))
    if ttfonts.makeToUnicodeCMap is not _to_unicode_cmap:
        global _plain_cmap
        _plain_cmap = ttfonts.makeToUnicodeCMap
        ttfonts.makeToUnicodeCMap = _to_unicode_cmap
    # <b> in a paragraph picks the bold face
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, REGULAR)
    addMapping(REGULAR, 1, 1, BOLD)
    return REGULAR, BOLD


def needs_shaping(text: str) -> bool:
    """Text outside ASCII may need HarfBuzz (Tamil does); plain ASCII never does."""
    return not text.isascii()


# Tamil consonants (with the grantha letters and the conjuncts க்ஷ, ஸ்ரீ) and the vowel signs
_CONSONANTS = [chr(c) for c in range(0x0B95, 0x0BBA) if chr(c).isprintable() and chr(c).isalpha()] + ["க்ஷ"]
_SIGNS = ["", "\u0BBE", "\u0BBF", "\u0BC0", "\u0BC1", "\u0BC2", "\u0BC6", "\u0BC7", "\u0BC8", "\u0BCA",
          "\u0BCB", "\u0BCC", "\u0BCD"]
_FACES: dict[str, tuple[object, dict[int, str]]] = {}  # face name: (ReportLab's face, glyph id -> text)
_plain_cmap = None


def _glyph_texts(path: Path) -> dict[int, str]:
    """The text each glyph without a character of its own stands for, by shaping every syllable."""
    import uharfbuzz
    from fontTools.ttLib import TTFont as FontFile

    cmap = FontFile(str(path)).getBestCmap()
    char_of = {}
    for code, glyph_name in cmap.items():
        char_of.setdefault(glyph_name, chr(code))
    order = FontFile(str(path)).getGlyphOrder()
    font = uharfbuzz.Font(uharfbuzz.Face(uharfbuzz.Blob(path.read_bytes())))
    out: dict[int, str] = {}
    for text in [c + v for c in _CONSONANTS for v in _SIGNS] + ["ஸ்ரீ"]:
        buf = uharfbuzz.Buffer()
        buf.add_str(text)
        buf.guess_segment_properties()
        uharfbuzz.shape(font, buf, {})
        glyphs = [info.codepoint for info in buf.glyph_infos]
        plain = [char_of.get(order[g]) for g in glyphs]
        rest = text
        for ch in plain:
            if ch:
                rest = rest.replace(ch, "", 1)
        lone = [g for g, ch in zip(glyphs, plain) if ch is None]
        if len(lone) == 1 and rest:
            out.setdefault(lone[0], rest)
    return out


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """ReportLab's ToUnicode map of a font subset, with the text of each shaped glyph that has no
    character of its own (ReportLab gives those private-use codes)."""
    face, texts = _FACES.get(fontname.partition("+")[2], (None, {}))
    cmap = _plain_cmap(fontname, subset)  # type: ignore[misc]
    if face is None:
        return cmap
    lines = cmap.split("\n")
    for i, code in enumerate(subset):
        text = texts.get(face.charToGlyph.get(code, -1)) if 0xE000 <= code <= 0xF8FF else None  # type: ignore[attr-defined]
        if text:
            old = "<%02X> <%04X>" % (i, code)
            lines[lines.index(old)] = "<%02X> <%s>" % (i, text.encode("utf-16-be").hex().upper())
    return "\n".join(lines)
