"""Every label of the dashboard in English and Tamil: each entry of the label table has both, and
each label the page's modules and page name by a fixed key is in the table (a missing key would
show the key itself). Keys built at run time (a level, a status) are checked in the browser tests."""

from __future__ import annotations

import re

from serve_app.dashboard.pages import STATIC

TAMIL = re.compile(r"[\u0B80-\u0BFF]")
ENTRY = re.compile(r'^\s*"([^"]+)":\s*\["((?:[^"\\]|\\.)*)",\s*"((?:[^"\\]|\\.)*)"\],?\s*$', re.MULTILINE)
USED = re.compile(r'\b(?:t|tf|tOr)\("([a-z_]+(?:\.[a-z_0-9]+)+)"|data-i18n="([a-z_]+(?:\.[a-z_0-9]+)+)"')


def _labels() -> dict[str, tuple[str, str]]:
    text = (STATIC / "js" / "i18n.js").read_text(encoding="utf-8")
    return {key: (english, tamil) for key, english, tamil in ENTRY.findall(text)}


def _sources() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in [STATIC / "index.html", *sorted((STATIC / "js").rglob("*.js"))]]


def test_every_label_has_english_and_tamil():
    labels = _labels()
    assert len(labels) > 300  # the table was read, not skipped by a change of its layout
    english_only = sorted(k for k, (en, ta) in labels.items() if not en or not TAMIL.search(ta))
    assert english_only == []


def test_every_fixed_key_the_pages_use_is_labelled():
    labels = _labels()
    used = {a or b for source in _sources() for a, b in USED.findall(source)}
    assert used, "no label keys found in the modules"
    assert sorted(used - labels.keys()) == []
