"""The PDF reports' typeface: Noto Sans Tamil (SIL Open Font License 1.1, `serve_app/shared/fonts/OFL.txt`), which
holds Latin and Tamil glyphs, so a school or place name in Tamil script prints as itself and not as
empty boxes. Tamil needs shaping (vowel signs placed before their consonant, conjuncts, ligatures):
ReportLab shapes text set in a `shapable` TrueType font with HarfBuzz (uharfbuzz), in paragraphs
whose style asks for it; `text` wraps a table cell that needs it in such a paragraph.

Shaping draws a syllable with glyphs the font maps to no character (டு, ஸ்ரீ, the half form of
ட்); ReportLab gives them private-use codes, and a PDF reader would extract nothing for them. So
the fonts' ToUnicode maps say which text each such glyph stands for, found by shaping every
consonant with every vowel sign once (`_glyph_texts`).

A vowel sign drawn before its consonant (ெ, ே, ை: செ is drawn ெ then ச) would extract in the
order drawn, as ெச. So the shaped glyphs are written to the page in the text's own order, each
still drawn where HarfBuzz placed it: the consonant first, moved right by the sign's width, then
the sign, moved back (`logical_order`). Readers take text in the order it is written, and get
செ. A two-part vowel (ொ, ோ, ௌ) comes out as its two signs in order, which Unicode's NFC
composes to the vowel itself.

The TTFs in `serve_app/shared/fonts/` (the dashboard serves the same files) are the Regular (400) and Bold (700) instances of the upstream variable font
(wdth 100), cut with fontTools' instancer: ReportLab embeds static TrueType outlines only."""

from __future__ import annotations

import functools
from pathlib import Path

FOLDER = Path(__file__).parent.parent / "shared" / "fonts"
REGULAR, BOLD = "ReportSans", "ReportSans-Bold"


@functools.cache
def register() -> tuple[str, str]:
    """Registers the fonts with ReportLab once per process; returns (regular, bold) font names."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics, ttfonts
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import textobject

    for name, file in ((REGULAR, "NotoSansTamil-Regular.ttf"), (BOLD, "NotoSansTamil-Bold.ttf")):
        font = TTFont(name, str(FOLDER / file), shapable=True)
        pdfmetrics.registerFont(font)
        _FACES[font.face.name.decode("latin-1")] = (font.face, _glyph_texts(FOLDER / file))
    if ttfonts.makeToUnicodeCMap is not _to_unicode_cmap:
        global _plain_cmap, _plain_format
        _plain_cmap = ttfonts.makeToUnicodeCMap
        ttfonts.makeToUnicodeCMap = _to_unicode_cmap
        _plain_format = textobject.PDFTextObject._formatText
        textobject.PDFTextObject._formatText = _format_in_logical_order
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
_PREBASE = frozenset("\u0BC6\u0BC7\u0BC8")  # vowel signs drawn before their consonant
_FACES: dict[str, tuple[object, dict[int, str]]] = {}  # face name: (ReportLab's face, glyph id -> text)
_plain_cmap = None
_plain_format = None


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


def logical_order(text: str, shape_data: list) -> list[tuple[str, object, float]] | None:
    """The glyphs of a shaped run (ReportLab's glyph codes and their HarfBuzz positions, in
    thousandths of an em) with every prebase vowel sign moved after the glyph it is drawn before,
    each still drawn where it was; None when the run has none. Each glyph comes with the extra
    character spacing to draw it with (thousandths of an em).

    A glyph is drawn at the pen plus its x_offset, then the pen moves on by its x_advance. The sign
    S and its base C become C then S: the pen first moves on to C's place, then back to S's, then
    on to where the pair ends. A move back is a kerning a reader ignores; a move on written as a
    gap reads as a space, so each move on is made by character spacing on the glyph before it
    (readers count spacing in the glyph's width): on the glyph before the pair for C's place, on
    S for the pair's end. A pair at the start of the run has no glyph before it, and moves on to
    C by its offset."""
    if not _PREBASE.intersection(text):
        return None
    out: list[list] = []  # glyph, shape data, extra spacing after it
    glyphs, data = list(text), list(shape_data)
    i = 0
    while i < len(glyphs):
        if glyphs[i] in _PREBASE and i + 1 < len(glyphs) and glyphs[i + 1] not in _PREBASE:
            sign, base = data[i], data[i + 1]
            to_base = sign.x_advance + base.x_offset  # from the pen at the pair's start to C's place
            if out:
                out[-1][2] += to_base
                base_data = base._replace(x_offset=0, x_advance=-to_base)
            else:
                base_data = base._replace(x_offset=to_base, x_advance=0)
            out.append([glyphs[i + 1], base_data, 0.0])
            out.append([glyphs[i], sign, float(base.x_advance)])  # S, then on by C's advance
            i += 2
        else:
            out.append([glyphs[i], data[i], 0.0])
            i += 1
    return [(g, d, extra) for g, d, extra in out]


def _format_in_logical_order(self, text):  # in place of ReportLab's PDFTextObject._formatText
    """ReportLab's text output, with a shaped run that holds prebase vowel signs written in logical
    order (`logical_order`): the glyphs without extra spacing in runs as ReportLab writes them, each
    glyph with it between two Tc operators."""
    from reportlab.lib.rl_accel import fp_str
    from reportlab.pdfbase.ttfonts import ShapedStr

    glyphs = logical_order(str(text), text.__shapeData__) if isinstance(text, ShapedStr) else None
    if glyphs is None:
        return _plain_format(self, text)  # type: ignore[misc]
    spacing = getattr(self, "_charSpace", 0)  # set only once setCharSpace is called (the canvas starts at 0)
    parts, run, data = [], "", []
    for glyph, shape, extra in glyphs:
        if not extra:
            run += glyph
            data.append(shape)
            continue
        if run:
            parts.append(_plain_format(self, ShapedStr(run, shapeData=data)))  # type: ignore[misc]
            run, data = "", []
        parts += [f"{fp_str(spacing + extra * self._fontsize / 1000)} Tc",
                  _plain_format(self, ShapedStr(glyph, shapeData=[shape])), f"{fp_str(spacing)} Tc"]  # type: ignore[misc]
    if run:
        parts.append(_plain_format(self, ShapedStr(run, shapeData=data)))  # type: ignore[misc]
    return " ".join(parts)
