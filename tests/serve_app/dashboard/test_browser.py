"""The dashboard in a real browser (Chromium) against a real twin served over HTTP and WebSockets:
sign-in (with MFA), the map of every school of the scope, the district and block views, a live
event reaching the page, school detail, a school admin's report sent once after being offline,
a CSV download, sign-out revoking the session, and each role seeing only its area. Screenshots of
each page are kept as test artefacts (`MEALTWIN_TEST_ARTIFACTS`, else pytest's temporary folder)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pyotp
import pytest

from tests.serve_app.dashboard.browser import launch, require_chromium
from tests.serve_app.dashboard.served_twin import PASSWORD, prepare, served_twin
from twin import geography

pytestmark = pytest.mark.browser

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    require_chromium()
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('dashboard')}/twin.db"
    # prepared in a thread of its own: the tests' event loop may be set in this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        prepared = pool.submit(asyncio.run, prepare(url)).result()
    with served_twin(url, prepared=prepared) as served:
        yield served


@pytest.fixture(scope="module")
def browser(twin):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)

    with sync_playwright() as p:
        chromium = launch(p)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("MEALTWIN_TEST_ARTIFACTS") or tmp_path_factory.mktemp("screenshots")) / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser, twin):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True, base_url=twin.base_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def sign_in(page, email: str, otp: str | None = None) -> None:  # noqa: ANN001
    page.goto("/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    if otp is not None:
        page.wait_for_selector("#otp-field:not([hidden])")
        page.fill("input[name=otp]", otp)
        page.click("#login button[type=submit]")
    page.wait_for_selector("#sign-out:not([hidden])")


def expect(locator):  # noqa: ANN001, ANN201 - Playwright's assertions (imported once Chromium is known to be there)
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def drawn(page) -> int:  # noqa: ANN001
    page.wait_for_selector("#school-map[data-schools-drawn]")
    return int(page.get_attribute("#school-map", "data-schools-drawn"))


def risk_counts(page) -> list[int]:  # noqa: ANN001
    return [int(x) for x in page.get_attribute("#school-map", "data-levels").split(",")]


@contextmanager
def api(twin, email: str) -> Iterator[httpx.Client]:  # noqa: ANN001
    """The API signed in as `email`, as a script would use it beside the page."""
    with httpx.Client(base_url=twin.base_url, timeout=60) as client:
        session = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()["data"]
        client.headers["Authorization"] = f"Bearer {session['access_token']}"
        yield client


def schools_of(twin, district: str, block: str | None = None) -> list[str]:  # noqa: ANN001
    return [r["id"] for r in twin.rows if r["district"] == district and (block is None or r["block"] == block)]


def test_a_state_admin_signs_in_and_the_map_draws_every_school(twin, page, artefacts):
    sign_in(page, twin.accounts["state"].email)
    expect(page.locator("#school-map")).to_have_attribute("data-schools-drawn", str(len(twin.rows)))
    assert drawn(page) == len(twin.rows)
    expect(page.locator("#districts-table tbody tr")).to_have_count(len(geography.district_names()))
    assert page.inner_text("[data-figure=reporting] .value").endswith(f"/ {len(twin.rows):,}")  # under a lakh: 1,200
    page.wait_for_selector("#connection[data-state=live]")
    page.screenshot(path=artefacts / "state.png")


def test_a_district_officer_lands_on_their_district_and_its_blocks(twin, page, artefacts):
    officer = twin.accounts["district"]
    sign_in(page, officer.email)
    page.wait_for_selector("#blocks-table tbody tr")
    blocks = [b.name for b in geography.districts()[geography.district_index(officer.district)].blocks]
    shown = page.locator("#blocks-table tbody tr td:first-child").all_inner_texts()
    assert sorted(shown) == sorted(blocks)
    assert drawn(page) == len(schools_of(twin, officer.district))
    page.screenshot(path=artefacts / "district.png")

    block = twin.accounts["block"].block
    page.click(f"#blocks-table a:text-is('{block}')")  # drill down to a block
    expect(page.locator("#schools-table tbody tr")).to_have_count(len(schools_of(twin, officer.district, block)))
    page.screenshot(path=artefacts / "block.png")


def test_a_block_officer_sees_only_their_block(twin, page):
    officer = twin.accounts["block"]
    sign_in(page, officer.email)
    page.wait_for_selector("#schools-table tbody tr")
    mine = schools_of(twin, officer.district, officer.block)
    assert drawn(page) == len(mine)
    assert sorted(page.locator("#schools-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.school)")) == sorted(mine)
    other = next(r for r in twin.rows if r["district"] != officer.district)
    page.goto(f"/#/school/{other['id']}")  # another district's school is not found, as an unknown one
    page.wait_for_selector("#main [role=alert]")
    assert "no school" in page.inner_text("#main [role=alert]")
    page.goto(f"/#/district/{other['district']}")  # nor is another district
    expect(page.locator("#main [role=alert]")).to_contain_text(f"no district {other['district']}")


def test_a_posted_event_recolours_the_map_and_moves_the_figures(twin, page, artefacts):
    sign_in(page, twin.accounts["state"].email)
    page.wait_for_selector("#connection[data-state=live]")
    assert drawn(page) == len(twin.rows)
    before = risk_counts(page)
    meals_before = page.inner_text("[data-figure=meals] .value")
    school = schools_of(twin, "Chennai")[0]
    with api(twin, twin.accounts["state"].email) as client:
        posted = client.post("/api/v1/events", json={"events": [
            {"type": "attendance_reported", "event_id": "live-1", "date": "2025-07-01", "school_id": school,
             "present": 60, "meals_served": {"primary": 57}},
            {"type": "shortage_reported", "event_id": "live-2", "date": "2025-07-01", "school_id": school, "item": "rice"}]})
        assert posted.status_code == 200, posted.text
        for _ in range(10):  # a twin busy with the other tests' work may ask to wait (503)
            risk = client.get(f"/api/v1/predictions/risk/{school}")
            if risk.status_code != 503:
                break
            time.sleep(1)
        assert risk.status_code == 200, risk.text
        level = risk.json()["data"]["level"]
    assert level in ("high", "critical")
    expect(page.locator("#school-map")).not_to_have_attribute("data-levels", ",".join(map(str, before)))
    after = risk_counts(page)
    assert after[2] + after[3] > before[2] + before[3] and sum(after) == sum(before)
    assert meals_before == "0"
    expect(page.locator("[data-figure=meals] .value")).to_have_text("57")
    page.screenshot(path=artefacts / "state-after-event.png")

    page.goto(f"/#/school/{school}")  # the school's page tells the same
    page.wait_for_selector("#school-level")
    assert page.get_attribute("#school-level", "data-level") == level
    assert page.locator("#risk table tr").count() >= 7  # each factor's points
    page.screenshot(path=artefacts / "school.png")


def test_a_school_admin_reports_a_day_once_even_after_being_offline(twin, page, artefacts):
    admin = twin.accounts["school"]
    sign_in(page, admin.email)
    page.wait_for_selector("#school-level")  # a school admin's overview is their school
    page.goto("/#/report")
    page.wait_for_selector("#attendance")
    page.context.set_offline(True)
    page.fill("#attendance input[name=date]", "2025-07-02")
    page.fill("#attendance input[name=present]", "40")
    page.fill("#attendance input[name=primary]", "38")
    page.click("#attendance button[type=submit]")
    page.wait_for_selector("#outbox:not([hidden])")
    assert page.inner_text("#waiting-count") == "1"
    page.screenshot(path=artefacts / "my-school-offline.png")
    page.context.set_offline(False)
    page.wait_for_selector("#outbox", state="hidden")
    with api(twin, twin.accounts["state"].email) as client:
        events = client.get("/api/v1/events", params={"school_id": admin.school_id}).json()["data"]["events"]
    reports = [e for e in events if e["type"] == "attendance_reported" and e["date"] == "2025-07-02"]
    assert len(reports) == 1 and reports[0]["present"] == 40
    page.screenshot(path=artefacts / "my-school.png")


def test_a_csv_report_downloads(twin, page):
    sign_in(page, twin.accounts["district"].email)
    page.goto("/#/reports")
    page.wait_for_selector("#csv-form")
    with page.expect_download() as download:
        page.click("#csv-form button[type=submit]")
    path = download.value.path()
    header = Path(path).read_text().splitlines()[0]
    assert "id" in header and download.value.suggested_filename.endswith(".csv")


def test_signing_out_revokes_the_session(twin, page):
    sign_in(page, twin.accounts["district"].email)
    page.wait_for_selector("#blocks-table")
    refresh_token = page.evaluate("JSON.parse(sessionStorage.getItem('mealtwin.session')).refresh")
    page.click("#sign-out")
    page.wait_for_selector("#login")
    assert page.evaluate("sessionStorage.getItem('mealtwin.session')") is None
    refused = httpx.post(f"{twin.base_url}/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert refused.status_code == 401


def test_an_ended_session_returns_to_sign_in(twin, page):
    sign_in(page, twin.accounts["state"].email)
    page.wait_for_selector("#districts-table")
    # the access token is refused and the refresh token is spent: the page must say so, not break
    page.evaluate("""() => { const s = JSON.parse(sessionStorage.getItem('mealtwin.session'));
        s.access = 'x.y.z'; s.refresh = 'spent'; sessionStorage.setItem('mealtwin.session', JSON.stringify(s)); }""")
    page.reload()
    page.wait_for_selector("#login")
    assert re.search("session has ended", page.inner_text("#banner"))


def test_an_account_with_mfa_signs_in_with_its_code(twin, page):
    email = twin.accounts["mfa"].email
    with api(twin, email) as client:
        secret = client.post("/api/v1/auth/mfa/enrol").json()["data"]["secret"]
        # confirmed with the previous step's code, so the current one is still unused for the sign-in
        confirmed = client.post("/api/v1/auth/mfa/verify", json={"code": pyotp.TOTP(secret).at(time.time() - 30)})
        assert confirmed.status_code == 200, confirmed.text
    sign_in(page, email, otp=pyotp.TOTP(secret).now())
    page.wait_for_selector("#schools-table")


def test_an_officer_approves_a_recommendation_in_the_optimisation_centre(twin, page, artefacts):
    officer = twin.accounts["district"]
    schools = schools_of(twin, officer.district)[:4]
    with api(twin, officer.email) as client:  # one school stocked, its neighbours eating their way to nothing
        events = [{"type": "stock_delivered", "event_id": "opt-d", "date": "2025-07-03", "school_id": schools[0],
                   "rice_kg": 800.0, "pulses_kg": 100.0, "oil_kg": 20.0, "eggs": 0}]
        events += [{"type": "attendance_reported", "event_id": f"opt-a{k}", "date": "2025-07-03", "school_id": s,
                    "present": 80, "meals_served": {"upper_primary": 70}} for k, s in enumerate(schools)]
        assert client.post("/api/v1/events", json={"events": events}).status_code == 200
    sign_in(page, officer.email)
    page.click("#nav a[href='#/optimisation']")
    page.click("#opt-run")
    expect(page.locator("#opt-message")).to_contain_text("recommendations")
    first = page.locator("#recommendations-table tbody tr").first
    rec_id = first.get_attribute("data-rec")
    page.screenshot(path=artefacts / "optimisation.png")
    first.locator("[data-approve]").click()
    expect(page.locator("#opt-message")).to_contain_text("applied")
    expect(page.locator(f"tr[data-rec='{rec_id}']")).to_have_count(0)  # no longer pending
    with api(twin, officer.email) as client:
        decided = client.get(f"/api/v1/optimization/recommendations/{rec_id}").json()["data"]
    assert decided["status"] == "applied" and decided["events"]


def test_the_alerts_drawer_counts_marks_read_and_takes_new_alerts_live(twin, page, artefacts):
    officer = twin.accounts["district"]
    schools = schools_of(twin, officer.district)
    with api(twin, officer.email) as client:  # days without a meal raise stored alerts once risk is scored
        events = [{"type": "attendance_reported", "event_id": f"alerts-{s}", "date": "2025-07-04", "school_id": s,
                   "present": 30, "no_meal_reason": "food_grains_not_available"} for s in schools[4:8]]
        assert client.post("/api/v1/events", json={"events": events}).status_code == 200
        assert client.get(f"/api/v1/predictions/risk/{schools[4]}").status_code == 200
    sign_in(page, officer.email)
    expect(page.locator("#unread")).not_to_have_text("0")
    unread = int(page.inner_text("#unread"))
    page.click("#alerts-button")
    page.wait_for_selector("#alerts-drawer [data-read]")
    page.locator("#alerts-drawer [data-read]").first.click()
    expect(page.locator("#unread")).to_have_text(str(unread - 1))
    shown = page.locator("#alerts-drawer .alert-item").count()
    expect(page.locator("#alerts-button[data-live]")).to_have_count(1)  # the alerts stream follows from here
    with api(twin, officer.email) as client:  # a shortage reported now reaches the open drawer by the stream
        shortage = {"type": "shortage_reported", "event_id": "alerts-live", "date": "2025-07-04",
                    "school_id": schools[9], "item": "oil"}
        assert client.post("/api/v1/events", json={"events": [shortage]}).status_code == 200
    expect(page.locator("#alerts-drawer .alert-item", has_text="Shortage of oil reported")).to_have_count(1)
    assert page.locator("#alerts-drawer .alert-item").count() > shown  # (risk scoring may raise stored alerts too)
    page.screenshot(path=artefacts / "alerts.png")


def test_labels_switch_to_tamil_and_numbers_are_grouped_in_lakhs(twin, page, artefacts):
    sign_in(page, twin.accounts["state"].email)
    enrolled = page.locator("[data-figure=fed] .sub")
    expect(enrolled).to_have_text(re.compile(r"/ \d{1,2},\d\d,\d{3}$"))  # e.g. 1,21,743 children: lakh grouping
    page.click("#language")
    expect(page.locator("html")).to_have_attribute("lang", "ta")
    expect(page.locator("#sign-out")).to_have_text("வெளியேறு")
    expect(page.locator("[data-figure=meals] .label")).to_have_text("இன்றைய உணவு")
    expect(page.locator("#school-map")).to_have_attribute("data-schools-drawn", str(len(twin.rows)))
    page.screenshot(path=artefacts / "state-tamil.png")
    page.click("#language")
    expect(page.locator("#sign-out")).to_have_text("Sign out")


def test_a_lost_connection_is_shown_and_resumed_without_a_reload(twin, page):
    officer = twin.accounts["district"]
    sign_in(page, officer.email)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    page.evaluate("window.notReloaded = true")
    page.context.set_offline(True)
    expect(page.locator("#connection")).to_have_attribute("data-state", "down")
    meals = page.locator("[data-figure=meals] .value")
    before = meals.inner_text()
    school = schools_of(twin, officer.district)[12]
    with api(twin, officer.email) as client:  # a change while the page is away
        events = [{"type": "attendance_reported", "event_id": "away-1", "date": "2025-07-04", "school_id": school,
                   "present": 90, "meals_served": {"primary": 88}}]
        assert client.post("/api/v1/events", json={"events": events}).status_code == 200
    page.context.set_offline(False)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(meals).not_to_have_text(before)  # caught up from the stream, not from a reload
    assert page.evaluate("window.notReloaded") is True
