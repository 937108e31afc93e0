"""The map's risk levels in a real browser: positions come once with the map; after it, the page is
sent only the schools whose level changed (`MTC1`), and a page holding levels the twin does not
know (as after a replica restarted) is sent every level again and ends up right."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.serve_app.dashboard.test_browser import (  # noqa: F401 - fixtures
    api,
    artefacts,
    browser,
    drawn,
    expect,
    page,
    risk_counts,
    schools_of,
    sign_in,
    twin,
)
from tests.serve_app.dashboard.test_endpoints import decode_levels

pytestmark = pytest.mark.browser


def _make_risky(twin, school: str, tag: str) -> str:  # noqa: ANN001
    """Post a day with meals served and a shortage at `school`: its risk rises. Its level."""
    with api(twin, twin.accounts["state"].email) as client:
        posted = client.post("/api/v1/events", json={"events": [
            {"type": "attendance_reported", "event_id": f"{tag}-a", "date": "2025-07-01", "school_id": school,
             "present": 60, "meals_served": {"primary": 57}},
            {"type": "shortage_reported", "event_id": f"{tag}-s", "date": "2025-07-01", "school_id": school,
             "item": "rice"}]})
        assert posted.status_code == 200, posted.text
        for _ in range(10):  # a busy twin may ask to wait (503)
            risk = client.get(f"/api/v1/predictions/risk/{school}")
            if risk.status_code != 503:
                break
            time.sleep(1)
        assert risk.status_code == 200, risk.text
        return risk.json()["data"]["level"]


def _settled(twin, page) -> np.ndarray:  # noqa: ANN001
    """The levels the twin holds, once the page shows every one of them."""
    with api(twin, twin.accounts["state"].email) as client:
        for _ in range(60):
            expected = decode_levels(client.get("/api/v1/dashboard/levels").content)
            if page.evaluate("Array.from(window.mealtwinMap.map.level)") == expected.tolist():
                return expected
            time.sleep(0.5)
    raise AssertionError("the page's levels never came to the twin's")


def test_after_the_map_only_changed_levels_are_sent_and_an_unknown_version_gets_them_all(twin, page, artefacts):  # noqa: F811
    responses: list = []  # the page's levels reads, their bodies read once each is done
    page.on("requestfinished", lambda r: responses.append(r) if "/api/v1/dashboard/levels" in r.url else None)

    def answers() -> list[tuple[str, bytes]]:
        return [(r.url, r.response().body()) for r in responses]

    sign_in(page, twin.accounts["state"].email)
    page.wait_for_selector("#connection[data-state=live]")
    assert drawn(page) == len(twin.rows)
    # the first events: the twin's first scoring may move many schools at once
    assert _make_risky(twin, schools_of(twin, "Chennai")[0], "changes-1") in ("high", "critical")
    _settled(twin, page)
    assert all("since=" in url for url, _ in answers())  # the map named its version

    responses.clear()
    school = schools_of(twin, "Madurai")[0]
    before = risk_counts(page)
    assert _make_risky(twin, school, "changes-2") in ("high", "critical")
    expect(page.locator("#school-map")).not_to_have_attribute("data-levels", ",".join(map(str, before)))
    _settled(twin, page)
    read = answers()
    assert read, "the page read no levels"
    for url, body in read:  # a few schools moved: only they are sent
        assert "since=" in url and body[:4] == b"MTC1" and len(body) < 12 + 5 * 20, (url, body[:4], len(body))
    assert any(len(body) > 12 for _, body in read)
    page.screenshot(path=artefacts / "state-level-changes.png")

    # levels the twin does not know (the replica that read them restarted): every level, all right
    page.evaluate("window.mealtwinMap.map.levelsVersion = '0123456789abcdef'")
    responses.clear()
    shown = risk_counts(page)
    assert _make_risky(twin, schools_of(twin, "Salem")[0], "changes-3") in ("high", "critical")
    expect(page.locator("#school-map")).not_to_have_attribute("data-levels", ",".join(map(str, shown)))
    expected = _settled(twin, page)
    assert any(body[:4] == b"MTL1" and len(body) == 8 + len(twin.rows) for _, body in answers())
    expect(page.locator("#school-map")).to_have_attribute("data-levels", ",".join(
        str(int(c)) for c in np.bincount(expected, minlength=4)))
