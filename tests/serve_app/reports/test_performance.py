"""Programme performance from the twin's daily record: coverage, compliance, no-meal and stock-out
school-days add up to the reports that went in; parts, trend, scope and bad periods."""

import pytest

from configs import Settings
from tests.fixtures.app import client_of
from tests.fixtures.report_world import ARIYALUR_IDS, BLOCK_OF, DAYS, S1, events, report_app
from twin.area import Area

API = "/api/v1/reports/performance"


@pytest.fixture
async def app(database_url):
    async with report_app(Settings(database_url=database_url)) as app:
        yield app


def _reports(schools: set[str]) -> list[dict]:
    return [e for e in events() if e["type"] == "attendance_reported" and e["school_id"] in schools]


async def test_a_district_performance_adds_up_to_the_reports(app):
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        r = await officer.get(API, params={"from": "2025-07-01", "to": "2025-07-07"})
        assert r.status_code == 200, r.text[:300]
        data = r.json()["data"]
        district = (await officer.get("/api/v1/twin/districts/Ariyalur")).json()["data"]
    reports = _reports(set(ARIYALUR_IDS))
    total = data["total"]
    assert total["school_days"] == len(DAYS) and total["schools"] == len(ARIYALUR_IDS)
    assert total["reports_received"] == len(reports)
    assert total["reports_expected"] == len(ARIYALUR_IDS) * len(DAYS)
    assert total["reporting_compliance"] == pytest.approx(len(reports) / (len(ARIYALUR_IDS) * len(DAYS)), abs=1e-4)
    meals = sum(sum(e["meals_served"].values()) for e in reports)
    assert total["meals"] == meals
    assert total["meal_coverage"] == pytest.approx(meals / (district["enrolment"] * len(DAYS)), abs=1e-4)
    no_meal = [e for e in reports if e.get("no_meal_reason")]
    assert total["no_meal_school_days"] == total["stock_out_school_days"] == len(no_meal) > 0
    assert total["no_meal_reasons"]["food_grains_not_available"] == len(no_meal)
    assert total["fund_utilisation"] == pytest.approx(
        total["funds_utilised_inr"] / total["funds_released_inr"], abs=1e-4)
    # by block: the parts add up to the whole
    assert {p["name"] for p in data["parts"]} == {BLOCK_OF[s] for s in ARIYALUR_IDS}
    for key in ("meals", "reports_received", "no_meal_school_days", "enrolled_school_days"):
        assert sum(p[key] for p in data["parts"]) == total[key], key
    assert [d["date"] for d in data["daily"]] == [d.isoformat() for d in DAYS]
    assert sum(d["meals"] for d in data["daily"]) == meals
    # the previous week is held (no reports in it): the trend is the whole of this week's figures
    assert data["previous_period"] == {"from": "2025-06-24", "to": "2025-06-30", "held": True}
    assert total["trend"]["no_meal_school_days"] == len(no_meal)
    assert total["trend"]["meal_coverage"] == pytest.approx(total["meal_coverage"], abs=1e-4)


async def test_a_block_officer_sees_the_schools_of_the_block_only(app):
    async with client_of(app, "block_officer", Area("Ariyalur", "Sendurai")) as officer:
        data = (await officer.get(API, params={"from": "2025-07-01", "to": "2025-07-07"})).json()["data"]
        assert data["parts_are"] == "schools"
        assert {p["name"] for p in data["parts"]} == {s for s in ARIYALUR_IDS if BLOCK_OF[s] == "Sendurai"}
        assert data["total"]["reports_received"] == len(_reports({p["name"] for p in data["parts"]}))
        r = await officer.get(API, params={"district": "Ariyalur"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    async with client_of(app, "school_admin", Area("Ariyalur", "Sendurai", S1)) as admin:
        data = (await admin.get(API, params={"from": "2025-07-01", "to": "2025-07-07"})).json()["data"]
        assert [p["name"] for p in data["parts"]] == [S1]


async def test_a_period_the_twin_does_not_hold_names_the_field(app):
    async with client_of(app) as client:
        for params, field in (({"from": "2025-05-01", "to": "2025-07-07"}, "from"),
                              ({"from": "2025-07-01", "to": "2025-07-20"}, "to"),
                              ({"from": "2025-07-07", "to": "2025-07-01"}, "to"),
                              ({"from": "2025-07-01", "to": "not-a-date"}, "to")):
            r = await client.get(API, params=params)
            assert r.status_code == 422, params
            body = r.json()
            assert body["success"] is False and body["error"]["code"] == "VALIDATION_ERROR"
            assert body["error"]["details"]["fields"][0]["field"] == field, (params, body)
        r = await client.get(API, params={"district": "Atlantis"})
        assert r.status_code == 404


async def test_a_role_dashboard_is_its_area_figures_and_no_more(app):
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        r = await officer.get("/api/v1/reports/dashboard/district_officer")
        assert r.status_code == 200, r.text[:300]
        data = r.json()["data"]
        district = (await officer.get("/api/v1/twin/districts/Ariyalur")).json()["data"]
        alerts = (await officer.get("/api/v1/alerts", params={"status": "open"})).json()["data"]["pagination"]["total"]
        assert data["area"]["district"] == "Ariyalur" and data["as_of"] == "2025-07-07"
        assert data["figures"]["enrolment"] == district["enrolment"] and data["figures"]["schools"] == len(ARIYALUR_IDS)
        assert sum(data["risk_by_level"].values()) == len(ARIYALUR_IDS)
        assert data["open_alerts"]["total"] == alerts == sum(data["open_alerts"]["by_severity"].values())
        week = (await officer.get(API, params={"from": "2025-07-01", "to": "2025-07-07"})).json()["data"]["total"]
        assert data["last_week"]["meal_coverage"] == week["meal_coverage"]
        assert data["last_week"]["stock_out_school_days"] == week["stock_out_school_days"] > 0
        # a role below: a block of the district, named; above, or outside: 404; a view without its place: 422
        block = await officer.get("/api/v1/reports/dashboard/block_officer", params={"district": "Ariyalur",
                                                                                     "block": "Sendurai"})
        assert block.status_code == 200 and block.json()["data"]["figures"]["schools"] == 2
        assert (await officer.get("/api/v1/reports/dashboard/state_admin")).status_code == 404
        assert (await officer.get("/api/v1/reports/dashboard/district_officer",
                                  params={"district": "Chennai"})).status_code == 404
        r = await officer.get("/api/v1/reports/dashboard/block_officer")
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "block"
        assert (await officer.get("/api/v1/reports/dashboard/minister")).status_code == 422
    async with client_of(app, "school_admin", Area("Ariyalur", "Sendurai", S1)) as admin:
        data = (await admin.get("/api/v1/reports/dashboard/school_admin")).json()["data"]
        assert data["area"]["school_id"] == S1 and data["figures"]["schools"] == 1 and data["attention"] == []
        assert (await admin.get("/api/v1/reports/dashboard/block_officer")).status_code == 404


async def test_the_trend_is_the_change_from_the_previous_period_in_total_and_by_block(app):
    # 1-2 July and 3-4 July hold reports (some of them no-meal days): each is the other's neighbour
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        now = (await officer.get(API, params={"from": "2025-07-03", "to": "2025-07-04"})).json()["data"]
        before = (await officer.get(API, params={"from": "2025-07-01", "to": "2025-07-02"})).json()["data"]
    assert now["previous_period"] == {"from": "2025-07-01", "to": "2025-07-02", "held": True}
    assert before["total"]["reports_received"] > 0 and before["total"]["no_meal_school_days"] > 0
    keys = ("meal_coverage", "reporting_compliance", "no_meal_school_days", "stock_out_school_days")
    pairs = [(now["total"], before["total"])] + [
        (p, next(q for q in before["parts"] if q["name"] == p["name"])) for p in now["parts"]]
    assert len(pairs) > 2  # the district and its blocks
    for current, previous in pairs:
        for key in keys:
            assert current["trend"][key] == pytest.approx(current[key] - previous[key], abs=2e-4), (current["name"]
                                                                                                   if "name" in current
                                                                                                   else "total", key)
    assert any(p["trend"]["no_meal_school_days"] != 0 for p in now["parts"])  # a change, not all zero
