"""The optimisation centre in a real browser against a real twin: a recommendation's impact run as a
background job (started from the page, followed while it runs, its result with 95% intervals, its
refusal, failure and disappearance shown), and a fund advance's amount edited (accepted, and refused
by the block's balance and by the school's need, each named as the API names it)."""

from __future__ import annotations

import json

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
from tests.serve_app.dashboard.test_pages_browser import (
    LONG_MS,
    _an_editable_recommendation,
    _needy_block,
)

pytestmark = pytest.mark.browser

# every `data-status` a job's row takes, in order, as the page draws it
_WATCH_STATUSES = """() => {
  window.jobStatuses = [];
  new MutationObserver(() => {
    const row = document.querySelector("#impact-jobs-table tbody tr");
    const status = row && row.dataset.status;
    if (status && window.jobStatuses[window.jobStatuses.length - 1] !== status) window.jobStatuses.push(status);
  }).observe(document.getElementById("impact-jobs"), { childList: true, subtree: true, attributes: true });
}"""


def test_an_impact_job_runs_in_the_background_with_its_progress_and_result(twin, page, artefacts):  # noqa: F811
    officer = twin.accounts["district"]
    row, rec_id = _an_editable_recommendation(twin, page, officer, "job", 3)
    expect(page.locator("#impact-jobs .empty")).to_contain_text("You have started no impact jobs yet")
    page.evaluate(_WATCH_STATUSES)
    row.locator("[data-impact-job]").click()
    form = page.locator("#impact-job-form")
    form.locator("input[name=horizon_days]").fill("10")
    form.locator("input[name=replications]").fill("4")
    form.locator("button[type=submit]").click()
    expect(page.locator("#impact-job-status")).to_have_text("Job started")
    job = page.locator("#impact-jobs-table tbody tr")
    expect(job).to_have_count(1)
    expect(job).to_contain_text("4 replications · 10 days · monsoon week")
    job_id = job.get_attribute("data-job")
    expect(job).to_have_attribute("data-status", "done", timeout=LONG_MS)
    statuses = page.evaluate("window.jobStatuses")
    assert statuses[0] in ("queued", "running") and statuses[-1] == "done", statuses  # followed, not just found done
    result = page.locator("#impact-job-result")  # shown by itself once done
    expect(result).to_have_attribute("data-job", job_id)
    for plan in ("none", "greedy", "recommendation"):
        expect(result.locator(f"tr[data-plan={plan}] td[data-metric=no_meal_child_days]")).to_contain_text("[")
    page.screenshot(path=artefacts / "optimisation-impact-job.png")
    with api(twin, officer.email) as client:
        stored = client.get(f"/api/v1/optimization/impact/jobs/{job_id}").json()["data"]
    assert stored["status"] == "done" and stored["recommendation_id"] == rec_id
    assert stored["request"]["replications"] == 4 and stored["request"]["horizon_days"] == 10
    page.reload()  # the twin lists the officer's jobs: read again, the result a click away
    again = page.locator(f"#impact-jobs-table tr[data-job='{job_id}']")
    expect(again).to_have_attribute("data-status", "done")
    again.locator("[data-result]").click()
    expect(page.locator("#impact-job-result #impact-table")).to_be_visible()
    page.evaluate("sessionStorage.clear()")  # another tab or device: the list is the twin's
    sign_in(page, officer.email)
    page.click("#nav a[href='#/optimisation']")
    expect(page.locator(f"#impact-jobs-table tr[data-job='{job_id}']")).to_have_attribute("data-status", "done")


def test_an_impact_job_refused_failed_or_gone_says_so(twin, page):  # noqa: F811
    officer = twin.accounts["district"]
    row, _ = _an_editable_recommendation(twin, page, officer, "job-bad", 4)
    rows = page.locator("#impact-jobs-table tbody tr")
    expect(page.locator("#impact-jobs[data-loaded]")).to_have_count(1)
    listed = rows.count()  # the officer's earlier jobs, if any
    # refused: the form keeps replications in range; a request altered on its way asks for too many
    page.route("**/api/v1/optimization/impact/*/jobs?*", lambda route: route.continue_(
        url=route.request.url.replace("replications=20", "replications=5000")))
    row.locator("[data-impact-job]").click()
    page.locator("#impact-job-form button[type=submit]").click()
    status = page.locator("#impact-job-status")
    expect(status).to_have_class("error")
    expect(status).to_contain_text("replications")
    expect(rows).to_have_count(listed)  # nothing started, nothing added
    page.unroute("**/api/v1/optimization/impact/*/jobs?*")

    # failed: the twin's answer for the job, as a job whose simulation raised reads
    def failed(route):  # noqa: ANN001, ANN202
        answer = route.fetch().json()
        answer["data"].update(status="failed", result=None, error="the school is no longer in the twin")
        route.fulfill(status=200, content_type="application/json", body=json.dumps(answer))

    page.route("**/api/v1/optimization/impact/jobs/*", failed)
    page.locator("#impact-job-form button[type=submit]").click()
    expect(rows).to_have_count(listed + 1)
    job = rows.first  # newest first
    expect(job).to_have_attribute("data-status", "failed")
    expect(job.locator("[data-progress]")).to_have_text("the school is no longer in the twin")
    expect(job.locator("[data-result]")).to_have_count(0)
    expect(page.locator("#impact-job-result")).to_be_hidden()
    page.unroute("**/api/v1/optimization/impact/jobs/*")

    # gone: a job this tab remembers that the twin does not know (its database was reset)
    page.evaluate("""() => { const key = Object.keys(sessionStorage).find((k) => k.startsWith("mealtwin.impactJobs."));
        const jobs = JSON.parse(sessionStorage.getItem(key));
        jobs.unshift({ id: "0".repeat(32), rec: jobs[0].rec, school: jobs[0].school, request: jobs[0].request });
        sessionStorage.setItem(key, JSON.stringify(jobs)); }""")
    page.reload()
    gone = page.locator(f"#impact-jobs-table tr[data-job='{'0' * 32}']")
    expect(gone).to_have_attribute("data-status", "gone")
    expect(gone).to_contain_text("The twin no longer knows this job.")


def _a_fund_advance(twin, page, officer, tag: str, nth: int) -> str:  # noqa: ANN001
    """The id of a fund advance the officer may edit: a needy block's kitchens cook with nothing
    released to them (their balances go below zero) and the block holds 6,000 INR to advance."""
    _needy_block(twin, officer, tag, nth)
    district = officer.district
    blocks = sorted({r["block"] for r in twin.rows if r["district"] == district})
    blocks = [b for b in blocks if len(schools_of(twin, district, b)) >= 3]
    block = blocks[nth % len(blocks)]
    with api(twin, officer.email) as client:
        money = {"type": "funds_released", "event_id": f"{tag}-block", "date": "2025-07-05", "amount_inr": 6000.0,
                 "district": district, "block": block}
        assert client.post("/api/v1/events", json={"events": [money]}).status_code == 200
    sign_in(page, officer.email)
    page.click("#nav a[href='#/optimisation']")
    page.click("#opt-run")
    expect(page.locator("#opt-message")).to_contain_text("recommendations")
    with api(twin, officer.email) as client:
        listed = client.get("/api/v1/optimization/recommendations",
                            params={"kind": "fund_advance", "status": "pending", "block": block}).json()["data"]
    assert listed["recommendations"], "the run proposed no advance in the block"
    return listed["recommendations"][0]["id"]


def test_a_fund_advance_is_edited_and_a_refused_amount_names_the_constraint(twin, page, artefacts):  # noqa: F811
    officer = twin.accounts["district"]
    rec_id = _a_fund_advance(twin, page, officer, "advance", 5)
    with api(twin, officer.email) as client:
        before = client.get(f"/api/v1/optimization/recommendations/{rec_id}").json()["data"]
    row = page.locator(f"#recommendations-table tr[data-rec='{rec_id}']")
    row.locator("[data-edit]").click()
    form = page.locator("#edit-form")
    expect(form.locator("input[name=rice_kg]")).to_have_count(0)  # an advance is an amount, not items
    status = page.locator("#edit-status")

    half = round(before["cost_inr"] / 2, 2)
    form.locator("input[name=amount_inr]").fill(str(half))
    form.locator("button[type=submit]").click()
    expect(status).to_contain_text("Saved: ₹")
    expect(status).not_to_have_class("error")
    with api(twin, officer.email) as client:
        edited = client.get(f"/api/v1/optimization/recommendations/{rec_id}").json()["data"]
    assert edited["cost_inr"] == pytest.approx(half) and edited["version"] == before["version"] + 1

    # more than the block holds: the block's balance refuses it
    page.locator(f"#recommendations-table tr[data-rec='{rec_id}'] [data-edit]").click()  # the form with the new version
    form.locator("input[name=amount_inr]").fill("100000")
    form.locator("button[type=submit]").click()
    expect(status).to_have_class("error")
    expect(status).to_contain_text("block_balance")
    page.screenshot(path=artefacts / "optimisation-advance-refused.png")

    # with the block rich, more than the school needs to cook to the horizon: the school's need refuses it
    block = edited["block"]
    with api(twin, officer.email) as client:
        rich = {"type": "funds_released", "event_id": "advance-rich", "date": "2025-07-05", "amount_inr": 10_000_000.0,
                "district": officer.district, "block": block}
        assert client.post("/api/v1/events", json={"events": [rich]}).status_code == 200
    form.locator("input[name=amount_inr]").fill("9000000")
    form.locator("button[type=submit]").click()
    expect(status).to_contain_text("school_need")
    expect(status).to_have_class("error")
    with api(twin, officer.email) as client:
        after = client.get(f"/api/v1/optimization/recommendations/{rec_id}").json()["data"]
    assert after["version"] == edited["version"] and after["cost_inr"] == pytest.approx(half)  # refusals change nothing
