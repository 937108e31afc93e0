"""The officers' working pages in a real browser against a real twin: report jobs and schedules,
finance by area with allocation and instalment release, the optimisation centre's quantity edit
and impact, and the simulation lab. Each page: what it is for, a refusal shown as the API gives it,
and a role that may not do it not getting the control."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.serve_app.dashboard.test_browser import (  # noqa: F401 - fixtures
    api,
    artefacts,
    browser,
    expect,
    page,
    schools_of,
    sign_in,
    twin,
)

pytestmark = pytest.mark.browser

LONG_MS = 90_000  # a scenario or an impact simulation on a busy machine


# -- reports: jobs and schedules ------------------------------------------------------------------

def test_a_report_job_runs_shows_its_progress_and_downloads(twin, page, artefacts):  # noqa: F811
    sign_in(page, twin.accounts["district"].email)
    page.click("#nav a[href='#/reports']")
    form = page.locator("#job-form")
    form.locator("select[name=format]").select_option("csv")
    form.locator("select[name=kind]").select_option("schools")
    form.locator("button[type=submit]").click()
    expect(page.locator("#job-status")).to_contain_text("Job started")
    done = page.locator("#jobs-table tr[data-status=done]").first
    expect(done).to_be_visible(timeout=LONG_MS)  # the list is read again while the job runs
    with page.expect_download() as download:
        done.locator("[data-download]").click()
    lines = Path(download.value.path()).read_text().splitlines()
    officer = twin.accounts["district"]
    assert lines[0].startswith("school_id") and len(lines) - 1 == len(schools_of(twin, officer.district))
    page.screenshot(path=artefacts / "report-jobs.png")


def test_a_schedule_is_made_paused_run_now_and_deleted(twin, page):  # noqa: F811
    sign_in(page, twin.accounts["block"].email)
    page.goto("/#/reports")
    form = page.locator("#schedule-form")
    form.locator("input[name=name]").fill("Block weekly")
    form.locator("select[name=format]").select_option("pdf")
    form.locator("select[name=level]").select_option("block")
    form.locator("select[name=frequency]").select_option("weekly")
    form.locator("select[name=weekday]").select_option("4")
    form.locator("input[name=recipients]").fill("beo@example.org, deo@example.org")
    form.locator("button[type=submit]").click()
    expect(page.locator("#schedule-form-status")).to_contain_text("Scheduled: Block weekly")
    row = page.locator("#schedules-table tr", has_text="Block weekly")
    expect(row).to_contain_text("Friday")
    expect(row).to_contain_text("beo@example.org, deo@example.org")
    row.locator("[data-pause]").click()
    expect(row).to_have_attribute("data-paused", "true")
    row.locator("[data-pause]").click()
    expect(row).to_have_attribute("data-paused", "false")
    row.locator("[data-run]").click()  # run now: the schedule's report as a job
    expect(page.locator("#jobs-table tr", has_text="PDF · Block")).to_have_count(1)
    row.locator("[data-deliveries]").click()
    expect(page.locator("#deliveries")).to_contain_text("Nothing sent yet.")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("[data-delete]").click()
    expect(page.locator("#schedules-table tr", has_text="Block weekly")).to_have_count(0)


def test_a_schedule_the_api_refuses_shows_why(twin, page):  # noqa: F811
    sign_in(page, twin.accounts["block"].email)
    page.goto("/#/reports")
    form = page.locator("#schedule-form")
    form.locator("input[name=name]").fill("Elsewhere")
    form.locator("select[name=format]").select_option("pdf")
    form.locator("select[name=level]").select_option("block")
    other = next(r for r in twin.rows if r["district"] != twin.accounts["block"].district)
    form.locator("input[name=place]").fill(other["block"])  # a block outside the officer's: unknown to them
    form.locator("input[name=recipients]").fill("beo@example.org")
    form.locator("button[type=submit]").click()
    status = page.locator("#schedule-form-status")
    expect(status).to_have_class("error")
    expect(status).to_contain_text("no block")
    expect(page.locator("#schedules-table tr", has_text="Elsewhere")).to_have_count(0)


def test_a_school_admin_reports_only_its_school_and_sees_only_its_own_jobs(twin, page):  # noqa: F811
    with api(twin, twin.accounts["district"].email) as client:  # someone else's job
        assert client.post("/api/v1/reports/jobs", json={"format": "csv", "kind": "risk"}).status_code == 202
    sign_in(page, twin.accounts["school"].email)
    page.click("#nav a[href='#/reports']")
    levels = page.locator("#job-form select[name=level] option")
    expect(levels).to_have_count(1)
    assert levels.first.get_attribute("value") == "school"
    expect(page.locator("#jobs")).to_contain_text("No report jobs yet.")


# -- finance by area --------------------------------------------------------------------------------

def test_finance_drills_from_the_state_to_a_school(twin, page, artefacts):  # noqa: F811
    sign_in(page, twin.accounts["state"].email)
    page.click("#nav a[href='#/finance']")
    expect(page.locator("#finance-parts[data-level=district] tbody tr")).to_have_count(38)
    school = twin.rows[0]
    page.click(f"#finance-parts tr[data-part='{school['district']}']")
    expect(page.locator("#finance-parts")).to_have_attribute("data-level", "block")
    page.click(f"#finance-parts tr[data-part='{school['block']}']")
    expect(page.locator("#finance-parts")).to_have_attribute("data-level", "school")
    expect(page.locator("#finance-parts tbody tr")).to_have_count(len(schools_of(twin, school["district"], school["block"])))
    page.screenshot(path=artefacts / "finance-block.png")
    page.click(f"#finance-parts tr[data-part='{school['id']}']")
    expect(page.locator("#finance-body h2").first).to_contain_text(school["id"])
    expect(page.locator("#finance-parts")).to_have_count(0)  # a school has no parts
    page.click("#finance-trail a >> nth=0")  # back to the state by the trail
    expect(page.locator("#finance-parts")).to_have_attribute("data-level", "district")


def test_a_district_officer_allocates_and_a_refused_release_names_the_rules(twin, page, artefacts):  # noqa: F811
    officer = twin.accounts["district"]
    sign_in(page, officer.email)
    page.click("#nav a[href='#/finance']")
    form = page.locator("#allocate-form")
    form.locator("[data-preview]").click()
    expect(page.locator("#finance-outcome")).to_contain_text("nothing recorded")
    page.once("dialog", lambda dialog: dialog.accept())
    form.locator("button[type=submit]").click()  # recorded, with the first instalment
    expect(page.locator("#finance-outcome")).to_contain_text("recorded")
    expect(page.locator("[data-figure=released] .value")).not_to_have_text("₹0")
    # the second instalment before 75% of the first is spent: the rules refuse it, rule by rule
    release = page.locator("#release-form")
    release.locator("select[name=instalment]").select_option("2")
    page.once("dialog", lambda dialog: dialog.accept())
    release.locator("button[type=submit]").click()
    expect(page.locator("#finance-outcome")).to_contain_text("Refused by the release rules")
    expect(page.locator("#refusal-rules li[data-rule=earlier_underused]")).to_have_count(1)
    page.screenshot(path=artefacts / "finance-refused.png")
    with api(twin, officer.email) as client:
        money = client.get(f"/api/v1/financial/districts/{officer.district}").json()["data"]
    assert money["allocated"]["schools_allocated"] == money["schools"]
    assert money["released_inr"] == pytest.approx(money["allocated"]["total_inr"] * 0.25, rel=1e-6)


def test_a_block_officer_reads_finance_without_allocating_or_releasing(twin, page):  # noqa: F811
    sign_in(page, twin.accounts["block"].email)
    page.click("#nav a[href='#/finance']")
    expect(page.locator("#finance-parts[data-level=school]")).to_be_visible()
    expect(page.locator("#allocate-form")).to_have_count(0)
    expect(page.locator("#release-form")).to_have_count(0)


def test_a_school_admin_gets_no_officers_pages(twin, page):  # noqa: F811
    sign_in(page, twin.accounts["school"].email)
    for hidden in ("finance", "scenarios", "optimisation", "requests"):
        expect(page.locator(f"#nav a[href='#/{hidden}']")).to_have_count(0)
        page.goto(f"/#/{hidden}")
        expect(page.locator("#not-for-role")).to_be_visible()
        expect(page.locator("#main button")).to_have_count(0)


# -- the optimisation centre: quantities and impact ----------------------------------------------

def _needy_block(twin, officer, tag: str, nth: int) -> None:  # noqa: ANN001
    """Stock one school of the officer's `nth` block with three schools or more and have the others
    report meals with nothing in store: the optimisation has transfers to propose there."""
    blocks = sorted({r["block"] for r in twin.rows if r["district"] == officer.district})
    blocks = [b for b in blocks if len(schools_of(twin, officer.district, b)) >= 3]
    schools = schools_of(twin, officer.district, blocks[nth % len(blocks)])[:4]
    with api(twin, officer.email) as client:  # one school stocked, its neighbours eating their way to nothing
        events = [{"type": "stock_delivered", "event_id": f"{tag}-d", "date": "2025-07-05", "school_id": schools[0],
                   "rice_kg": 900.0, "pulses_kg": 120.0, "oil_kg": 20.0, "eggs": 0}]
        events += [{"type": "attendance_reported", "event_id": f"{tag}-a{k}", "date": "2025-07-05", "school_id": s,
                    "present": 80, "meals_served": {"upper_primary": 70}} for k, s in enumerate(schools)]
        assert client.post("/api/v1/events", json={"events": events}).status_code == 200


def _an_editable_recommendation(twin, page, officer, tag: str, nth: int):  # noqa: ANN001, ANN202, F811
    """(its row, its id): a transfer the officer may edit, from a recompute on the page over a needy
    block (`_needy_block`)."""
    _needy_block(twin, officer, tag, nth)
    sign_in(page, officer.email)
    page.click("#nav a[href='#/optimisation']")
    page.click("#opt-run")
    expect(page.locator("#opt-message")).to_contain_text("recommendations")
    row = page.locator("#recommendations-table tbody tr:has([data-edit])").first
    return row, row.get_attribute("data-rec")


def test_a_recommendations_quantities_are_edited_and_its_impact_simulated(twin, page, artefacts):  # noqa: F811
    officer = twin.accounts["district"]
    row, rec_id = _an_editable_recommendation(twin, page, officer, "edit", 1)
    with api(twin, officer.email) as client:
        items = client.get(f"/api/v1/optimization/recommendations/{rec_id}").json()["data"]["action"]["items"]
    # 1 kg of the item it moves most of: within what the receiver lacks, whichever item that is
    kept = max(("rice_kg", "pulses_kg", "oil_kg"), key=lambda k: items.get(k, 0.0))
    assert items[kept] >= 1, items
    row.locator("[data-edit]").click()
    form = page.locator("#edit-form")
    for name in ("rice_kg", "pulses_kg", "oil_kg", "eggs"):
        form.locator(f"input[name={name}]").fill("1" if name == kept else "0")
    form.locator("button[type=submit]").click()
    expect(page.locator("#edit-status")).to_contain_text("Saved: 1 kg")
    with api(twin, officer.email) as client:
        edited = client.get(f"/api/v1/optimization/recommendations/{rec_id}").json()["data"]
    assert edited["quantity_kg"] == pytest.approx(1.0) and edited["version"] > 1
    page.locator(f"tr[data-rec='{rec_id}'] [data-impact]").click()
    table = page.locator("#impact-table")
    expect(table).to_be_visible(timeout=LONG_MS)
    for plan in ("none", "greedy", "recommendation"):
        expect(table.locator(f"tr[data-plan={plan}] td[data-metric=no_meal_child_days]")).to_contain_text("[")
    page.screenshot(path=artefacts / "optimisation-impact.png")


def test_an_edit_the_constraints_refuse_shows_the_apis_reason(twin, page):  # noqa: F811
    officer = twin.accounts["district"]
    row, rec_id = _an_editable_recommendation(twin, page, officer, "refuse", 2)
    with api(twin, officer.email) as client:
        before = client.get(f"/api/v1/optimization/recommendations/{rec_id}").json()["data"]
    row.locator("[data-edit]").click()
    page.locator("#edit-form input[name=rice_kg]").fill("900000")  # far beyond any giver's stock
    page.locator("#edit-form button[type=submit]").click()
    status = page.locator("#edit-status")
    expect(status).to_have_class("error")
    expect(status).not_to_be_empty()
    with api(twin, officer.email) as client:
        after = client.get(f"/api/v1/optimization/recommendations/{rec_id}").json()["data"]
    assert after["version"] == before["version"] and after["quantity_kg"] == before["quantity_kg"]


# -- the simulation lab ---------------------------------------------------------------------------

def _a_reported_day(twin, officer, tag: str) -> None:  # noqa: ANN001
    """A scenario starts from the live twin's latest reported day: give it one."""
    with api(twin, officer.email) as client:
        events = [{"type": "attendance_reported", "event_id": f"{tag}-{s}", "date": "2025-07-07", "school_id": s,
                   "present": 50, "meals_served": {"primary": 45}} for s in schools_of(twin, officer.district)]
        assert client.post("/api/v1/events", json={"events": events}).status_code == 200


def test_a_scenario_runs_in_the_lab_with_live_progress_and_kpi_bands(twin, page, artefacts):  # noqa: F811
    _a_reported_day(twin, twin.accounts["district"], "lab")
    sign_in(page, twin.accounts["district"].email)
    page.click("#nav a[href='#/scenarios']")
    form = page.locator("#scenario-form")
    form.locator("input[name=name]").fill("Monsoon delay")
    form.locator("input[name=horizon]").fill("10")
    form.locator("input[name=delay]").fill("4")
    form.locator("input[name=buffer]").fill("5")
    form.locator("button[type=submit]").click()
    expect(page.locator("#run-status")).to_have_attribute("data-status", "done", timeout=LONG_MS)
    detail = page.locator("#run-detail")
    expect(detail.locator("h2", has_text="plan")).to_have_count(1)
    expect(detail.locator("td.num", has_text="[").first).to_be_visible()  # KPI bands: mean [low – high]
    expect(page.locator("#runs-table tr", has_text="Monsoon delay")).to_have_count(1)
    page.screenshot(path=artefacts / "simulation-lab.png")


def test_a_scenario_outside_the_area_is_refused_on_the_page(twin, page):  # noqa: F811
    officer = twin.accounts["district"]
    _a_reported_day(twin, officer, "lab-refused")
    sign_in(page, officer.email)
    page.goto("/#/scenarios")
    # the place list holds the officer's district only: a request tampered on its way asks for another one
    other = next(r["district"] for r in twin.rows if r["district"] != officer.district)
    page.route("**/api/v1/scenarios", lambda route: route.continue_(post_data=route.request.post_data.replace(
        officer.district, other)) if route.request.method == "POST" else route.continue_())
    page.locator("#scenario-form button[type=submit]").click()
    status = page.locator("#scenario-status")
    expect(status).to_contain_text(other)
    expect(page.locator("#run-detail")).to_be_hidden()


def test_a_block_officer_simulates_only_its_block(twin, page):  # noqa: F811
    officer = twin.accounts["block"]
    sign_in(page, officer.email)
    page.goto("/#/scenarios")
    options = page.locator("#scenario-form select[name=place] option")
    expect(options).to_have_count(1)
    expect(options.first).to_have_text(f"{officer.block} · {officer.district}")


def test_the_new_pages_read_in_tamil(twin, page):  # noqa: F811
    sign_in(page, twin.accounts["district"].email)
    page.click("#language")
    expect(page.locator("#who")).to_contain_text("மாவட்ட அலுவலர்")
    page.click("#nav a[href='#/reports']")
    expect(page.locator("#jobs").locator("xpath=..").locator("h2")).to_have_text("அறிக்கைப் பணிகள்")
    expect(page.locator("#schedule-form button[type=submit]")).to_have_text("திட்டமிடு")
    page.click("#nav a[href='#/finance']")
    expect(page.locator("#release-form button[type=submit]")).to_have_text("விடுவி")
    page.click("#nav a[href='#/scenarios']")
    expect(page.locator("#scenario-form select[name=closure] option").nth(1)).to_have_text("பருவமழை")
    page.click("#nav a[href='#/optimisation']")
    expect(page.locator("#opt-status option").first).to_have_text("நிலுவையில்")
    # drawn in the twin's own Tamil face, not in boxes where the machine has no Tamil font
    assert page.evaluate("""async () => { await document.fonts.ready;
        return [...document.fonts].filter(f => f.family.includes("Mealtwin Tamil") && f.status === "loaded").length
    }""") >= 1
    page.click("#language")
    expect(page.locator("#who")).to_contain_text("District officer")
