"""The live streams (WebSockets) through the FastAPI app, with in-process shards and the in-memory
broker: a school's changes, resume, too-old resume, slow clients, alerts, dashboards, refusals."""

import asyncio

import pytest

from configs import Settings
from configs.settings import Streams
from db.engine import create_engine
from db.migrate import upgrade_async
from db.school_repository import SchoolRepository
from serve_app.app import create_api
from startup.services import open_local_services
from tests.fixtures.app import client_of
from tests.fixtures.builders import small_directory
from tests.fixtures.schools import school_rows
from tests.fixtures.ws import AsgiWebSocket, Closed
from twin import geography

DIRECTORY, ENROLMENT = small_directory()
SCHOOL = f"{int(DIRECTORY.school_ids[0]):011d}"
DISTRICT = geography.district_names()[int(DIRECTORY.school_district[0])]
OTHER = next(f"{int(s):011d}" for s, d in zip(DIRECTORY.school_ids, DIRECTORY.school_district)
             if geography.district_names()[int(d)] != DISTRICT)
BLOCK = DIRECTORY.blocks.names[int(DIRECTORY.school_block[0])]


@pytest.fixture
async def sqlite_url(tmp_path):
    """Streams do not depend on the database engine: SQLite only, seeded with the test schools."""
    url = f"sqlite+aiosqlite:///{tmp_path}/twin.db"
    await upgrade_async(url)
    engine = create_engine(url)
    await SchoolRepository(engine).insert_many(school_rows(DIRECTORY, ENROLMENT))
    await engine.dispose()
    return url


class Twin:
    def __init__(self, app, http) -> None:  # noqa: ANN001
        self.app, self.http = app, http

    @property
    def services(self):  # noqa: ANN201
        return self.app.state.services

    def ws(self, path: str, **query) -> AsgiWebSocket:
        return AsgiWebSocket(self.app, path, **query)

    async def post(self, *events: dict) -> dict:
        response = await self.http.post("/api/v1/events", json={"events": list(events)})
        assert response.status_code == 200, response.text
        await self.services.publisher.flush()
        return response.json()["data"]


def open_twin(database_url: str, **streams):  # noqa: ANN201
    settings = Settings(database_url=database_url, streams=Streams(**{"resume_wait_s": 0.05, **streams}))
    return create_api(lambda: open_local_services(settings, placement=[[0], [1, 2]]))


@pytest.fixture
async def twin_factory(sqlite_url):
    """Builds apps on the test database with given stream settings; closes them after the test."""
    stack = []

    async def make(**streams) -> Twin:
        app = open_twin(sqlite_url, **streams)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        http = client_of(app)
        stack.append((lifespan, http))
        return Twin(app, http)

    yield make
    for lifespan, http in reversed(stack):
        await http.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def twin(twin_factory):
    return await twin_factory()


_ids = iter(range(1_000_000))


def attendance(school=SCHOOL, present=40, primary=30, date="2025-07-01") -> dict:
    return {"type": "attendance_reported", "event_id": f"a{next(_ids)}", "date": date, "school_id": school,
            "present": present, "meals_served": {"primary": primary}}


def delivery(school=SCHOOL, rice_kg=100.0) -> dict:
    return {"type": "stock_delivered", "event_id": f"d{next(_ids)}", "date": "2025-07-01", "school_id": school,
            "rice_kg": rice_kg}


def is_delta(m: dict) -> bool:
    return m["type"] == "delta"


async def test_a_school_stream_gets_a_snapshot_then_each_change_of_that_school_only(twin):
    async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}") as ws:
        snapshot = await ws.receive_json()
        assert (snapshot["topic"], snapshot["type"], snapshot["seq"]) == (f"school:{SCHOOL}", "snapshot", 0)
        assert snapshot["data"]["school_id"] == SCHOOL and snapshot["timestamp"].endswith("Z")

        await twin.post(attendance(school=OTHER))  # another district: not this stream's business
        posted = await twin.post(delivery(rice_kg=50), attendance(present=40, primary=30))
        delta = await ws.receive_json()
        assert delta["type"] == "delta" and delta["topic"] == f"school:{SCHOOL}"
        assert delta["seq"] > snapshot["seq"]  # the stream's position, for resume
        assert delta["data"]["seq"] == posted["results"][-1]["seq"]  # the log's: what the twin has folded
        data = delta["data"]
        assert (data["school_id"], data["present_today"], data["meals_today"]) == (SCHOOL, 40, 30)
        assert data["today"] == "2025-07-01" and data["stale"] is False
        assert data["stock_kg"]["rice"] == pytest.approx(50 - 30 * 0.1)
        assert ws.pending() == []


async def test_resume_after_a_disconnect_gets_exactly_the_missed_changes(twin):
    async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}") as ws:
        await ws.receive_json()
        await twin.post(attendance(primary=10))
        seen = (await ws.receive_json())["seq"]
    for primary in (11, 12):
        await twin.post(attendance(primary=primary))

    async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}", after_seq=seen) as ws:
        missed = [await ws.receive_json() for _ in range(2)]
        assert [m["type"] for m in missed] == ["delta", "delta"]
        assert [m["data"]["meals_today"] for m in missed] == [11, 12]
        assert seen < missed[0]["seq"] < missed[1]["seq"]
        await twin.post(attendance(primary=13))  # and then it is live again
        assert (await ws.receive_json())["data"]["meals_today"] == 13

    ws = twin.ws(f"/api/v1/ws/schools/{SCHOOL}")  # the same, asked for in a first message
    await ws.connect()
    await ws.send_json({"resume": seen})
    assert [(await ws.receive_json())["data"]["meals_today"] for _ in range(3)] == [11, 12, 13]
    await ws.close()


async def test_a_resume_older_than_the_history_gets_a_snapshot_and_a_notice(twin_factory):
    twin = await twin_factory(history_messages=10)
    async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}") as ws:
        await ws.receive_json()
        for primary in range(15):
            await twin.post(attendance(primary=primary))  # one message each on the district's topic
        seqs = [(await ws.receive_json())["seq"] for _ in range(15)]
    assert seqs == list(range(seqs[0], seqs[0] + 15))
    for after in (seqs[3], 0, seqs[-1] + 10**6):  # before the history kept; from before the broker; ahead of it
        async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}", after_seq=after) as ws:
            snapshot, notice = await ws.receive_json(), await ws.receive_json()
            assert snapshot["type"] == "snapshot" and snapshot["data"]["recent_days"][0]["meals_served"]["primary"] == 14
            assert notice["type"] == "notice" and notice["data"]["too_old"] is True
            assert notice["seq"] == snapshot["seq"] == seqs[-1]
            assert ws.pending() == []
    async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}", after_seq=seqs[5]) as ws:  # still kept: the deltas
        assert [(await ws.receive_json())["seq"] for _ in range(9)] == seqs[6:]


async def test_a_slow_client_does_not_hold_up_a_fast_one_and_is_told_it_fell_behind(twin_factory):
    twin = await twin_factory(client_queue=4)
    async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}") as fast, twin.ws(f"/api/v1/ws/schools/{SCHOOL}") as slow:
        await fast.receive_json()
        slow.stalled()  # takes nothing from now on: the server's sends to it block
        for primary in range(12):
            await twin.post(attendance(primary=primary))
            assert (await fast.receive_json(timeout_s=3))["data"]["meals_today"] == primary
        slow.resume()
        got = await slow.receive_until(lambda m: is_delta(m) and m["data"]["meals_today"] == 11)
        notices = [m for m in got if m["type"] == "notice"]
        assert notices and notices[0]["data"]["fell_behind"] is True
        assert len([m for m in got if is_delta(m)]) < 12  # conflated, not queued without bound
        seqs = [m["seq"] for m in got if m["type"] != "notice"]
        assert seqs == sorted(seqs)


async def test_a_client_whose_send_times_out_is_dropped(twin_factory):
    twin = await twin_factory(send_timeout_s=1.0)
    hub = twin.services.hub
    async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}") as healthy:
        await healthy.receive_json()
        stuck = await twin.ws(f"/api/v1/ws/schools/{SCHOOL}").connect()
        stuck.stalled()  # from here on the server's sends to it block
        assert hub.connected_clients() == 2
        await twin.post(attendance())
        assert (await healthy.receive_json())["type"] == "delta"
        for _ in range(100):
            if hub.connected_clients() == 1:
                break
            await asyncio.sleep(0.05)
        assert hub.connected_clients() == 1
        await twin.post(attendance(primary=5))
        assert (await healthy.receive_json())["data"]["meals_today"] == 5
        await stuck.close()
    for _ in range(20):
        if hub.connected_clients() == 0:
            break
        await asyncio.sleep(0.05)
    assert hub.connected_clients() == 0


async def test_heartbeats_keep_an_idle_stream_alive(twin_factory):
    twin = await twin_factory(heartbeat_s=0.1)
    async with twin.ws(f"/api/v1/ws/schools/{SCHOOL}") as ws:
        snapshot = await ws.receive_json()
        beat = await ws.receive_json(timeout_s=2)
        assert beat["type"] == "heartbeat" and beat["seq"] == snapshot["seq"] and beat["topic"] == snapshot["topic"]


async def test_alerts_of_a_district_shortage_closure_and_low_stock(twin):
    other_district = geography.district_names()[int(DIRECTORY.school_district[DIRECTORY.index(OTHER)])]
    async with twin.ws("/api/v1/ws/alerts", district=DISTRICT) as ws, twin.ws("/api/v1/ws/alerts") as everywhere:
        live = await ws.receive_json()
        assert live["type"] == "notice" and live["data"] == {"live": True, "latest_seq": {f"alerts:{DISTRICT}": 0}}
        assert len((await everywhere.receive_json())["data"]["latest_seq"]) == len(geography.district_names())
        await twin.post(attendance(school=OTHER))  # serving meals from no stock: low stock, elsewhere
        await twin.post(
            {"type": "shortage_reported", "event_id": "s1", "date": "2025-07-01", "school_id": SCHOOL, "item": "rice"},
            {"type": "school_closed", "event_id": "c1", "date": "2025-07-02", "date_to": "2025-07-03",
             "school_id": SCHOOL, "reason": "flood"},
            delivery(rice_kg=1.0), attendance())
        got = [await ws.receive_json() for _ in range(3)]
        assert {m["type"] for m in got} == {"alert"} and {m["topic"] for m in got} == {f"alerts:{DISTRICT}"}
        kinds = {m["data"]["kind"]: m["data"] for m in got}
        assert set(kinds) == {"shortage_reported", "school_closed", "low_stock"}
        assert kinds["shortage_reported"]["item"] == "rice" and kinds["school_closed"]["reason"] == "flood"
        assert kinds["low_stock"]["school_id"] == SCHOOL and kinds["low_stock"]["stock_days"] < 3
        assert [m["seq"] for m in got] == sorted(m["seq"] for m in got)
        assert ws.pending() == []
        everything = [await everywhere.receive_json() for _ in range(4)]
        assert {m["topic"] for m in everything} == {f"alerts:{DISTRICT}", f"alerts:{other_district}"}
        assert everywhere.pending() == []

    seqs = sorted(m["seq"] for m in got)
    other_seq = next(m["seq"] for m in everything if m["topic"] == f"alerts:{other_district}")
    async with twin.ws("/api/v1/ws/alerts", district=DISTRICT, after_seq=seqs[0]) as ws:  # resume from history
        resumed = [await ws.receive_json() for _ in range(3)]
        assert [(m["type"], m["seq"]) for m in resumed] == [("alert", seqs[1]), ("alert", seqs[2]), ("notice", seqs[2])]
    ws = twin.ws("/api/v1/ws/alerts")
    await ws.connect()
    await ws.send_json({"resume": {f"alerts:{DISTRICT}": seqs[1], f"alerts:{other_district}": other_seq - 1}})
    got = await ws.receive_until(lambda m: m["type"] == "notice")
    assert sorted((m["topic"], m["seq"]) for m in got[:-1]) == sorted(
        [(f"alerts:{DISTRICT}", seqs[2]), (f"alerts:{other_district}", other_seq)])
    await ws.close()


async def test_a_dashboard_gets_its_scope_aggregates_when_the_applied_seq_moves(twin_factory):
    twin = await twin_factory(dashboard_interval_s=0.05)
    for primary, scope in enumerate((f"district:{DISTRICT}", f"block:{DISTRICT}/{BLOCK}", "state"), start=7):
        async with twin.ws("/api/v1/ws/dashboard", scope=scope) as ws:
            snapshot = await ws.receive_json()
            assert snapshot["type"] == "snapshot" and snapshot["topic"] == f"dashboard:{scope}"
            await asyncio.sleep(0.2)
            assert ws.pending() == []  # nothing changed: nothing sent
            assert snapshot["data"]["meals_today"] == (0 if primary == 7 else primary - 1)
            await twin.post(attendance(primary=primary, date="2025-07-09"))  # a correction after the first
            delta = await ws.receive_until(is_delta, timeout_s=3)
            assert delta[-1]["seq"] > snapshot["seq"] and delta[-1]["data"]["meals_today"] == primary
            await asyncio.sleep(0.2)
            assert [m for m in ws.pending() if m["type"] == "delta"] == []  # one message per change, not per poll


async def test_a_dashboard_moves_on_a_shards_news_without_waiting_for_its_interval(twin_factory):
    # an interval far longer than the wait below: only the shard's news of the batch can bring the view
    twin = await twin_factory(dashboard_interval_s=60.0, dashboard_news_gap_s=0.05)
    for primary, scope in enumerate((f"district:{DISTRICT}", f"block:{DISTRICT}/{BLOCK}", "state"), start=11):
        async with twin.ws("/api/v1/ws/dashboard", scope=scope) as ws:
            snapshot = await ws.receive_json()
            assert snapshot["type"] == "snapshot"
            answer = await twin.post(attendance(primary=primary, date="2025-07-10"))
            delta = await ws.receive_until(is_delta, timeout_s=5)
            assert delta[-1]["seq"] >= answer["results"][0]["seq"] and delta[-1]["data"]["meals_today"] == primary


async def test_news_of_another_district_does_not_move_a_district_dashboard(twin_factory):
    twin = await twin_factory(dashboard_interval_s=60.0, dashboard_news_gap_s=0.05)
    async with twin.ws("/api/v1/ws/dashboard", scope=f"district:{DISTRICT}") as ws:
        assert (await ws.receive_json())["type"] == "snapshot"
        await twin.post(attendance(school=OTHER, primary=9, date="2025-07-11"))
        await asyncio.sleep(0.5)
        assert [m for m in ws.pending() if m["type"] == "delta"] == []
        await twin.post(attendance(primary=8, date="2025-07-11"))
        assert (await ws.receive_until(is_delta, timeout_s=5))[-1]["data"]["meals_today"] == 8


@pytest.mark.parametrize("path, query, code", [
    ("/api/v1/ws/schools/33999999999", {}, 4404),
    ("/api/v1/ws/alerts", {"district": "Atlantis"}, 4404),
    ("/api/v1/ws/dashboard", {"scope": "district:Atlantis"}, 4404),
    ("/api/v1/ws/dashboard", {"scope": f"block:{DISTRICT}/Nowhere"}, 4404),
    ("/api/v1/ws/dashboard", {"scope": "galaxy"}, 4400),
    ("/api/v1/ws/alerts", {"after_seq": 3}, 4400),  # several topics: resume needs {topic: seq}
])
async def test_unknown_or_bad_scopes_get_an_error_envelope_then_a_close(twin, path, query, code):
    ws = twin.ws(path, **query)
    await ws.connect()
    error = await ws.receive_json()
    assert error["success"] is False and error["error"]["code"] == ("NOT_FOUND" if code == 4404 else "VALIDATION_ERROR")
    with pytest.raises(Closed) as closed:
        await ws.receive_json()
    assert closed.value.code == code
    await ws.close()
    assert twin.services.hub.connected_clients() == 0


async def test_a_malformed_resume_message_is_refused(twin):
    ws = twin.ws(f"/api/v1/ws/schools/{SCHOOL}")
    await ws.connect()
    await ws.send_json({"resume": "yesterday"})
    error = await ws.receive_json()
    assert error["error"]["code"] == "VALIDATION_ERROR" and "resume" in error["error"]["message"]
    with pytest.raises(Closed) as closed:
        await ws.receive_json()
    assert closed.value.code == 4400
    await ws.close()


async def test_a_stream_closes_when_its_token_expires(twin_factory):
    import time

    from serve_app.auth.tokens import TokenIssuer

    twin = await twin_factory()
    keys = twin.services.accounts.issuer._keys
    short = TokenIssuer(keys, access_ttl_s=900, clock=lambda: time.time() - 898)  # 2 s of life left
    token, _ = short.issue_access("user:0", "state_admin", None, None, None)
    async with AsgiWebSocket(twin.app, f"/api/v1/ws/schools/{SCHOOL}", access_token=token) as ws:
        assert (await ws.receive_json())["type"] == "snapshot"
        with pytest.raises(Closed) as closed:
            while True:
                await ws.receive_json(timeout_s=10)
        assert closed.value.code == 4401
