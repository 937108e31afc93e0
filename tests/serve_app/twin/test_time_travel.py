"""?as_of= on the twin reads: the state as it was when the log had received only the earlier
batches equals fresh shards that folded only those batches."""

import asyncio
import datetime as dt

import numpy as np
import orjson
import pytest

from actors.district_shard import DistrictShard
from actors.state_twin import StateTwin
from configs import Settings
from startup.actor_ports import open_shard_ports
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.fixtures.events import random_events
from twin import geography
from twin.encoding import encode
from twin.events import event_adapter

DIRECTORY, _ = small_directory()
PLACEMENT = [[0], [1, 2]]
PAST = ("as_of", "as_of_seq")


@pytest.fixture
async def app(seeded_url):
    async with running_app(Settings(database_url=seeded_url, max_events_per_request=1_000), PLACEMENT) as app:
        yield app


@pytest.fixture
async def client(app):
    async with client_of(app) as c:
        yield c


def _json(x):
    return orjson.loads(orjson.dumps(x, option=orjson.OPT_SERIALIZE_NUMPY))


def _without(view, *keys):
    return {k: v for k, v in view.items() if k not in keys}


async def _post(client, events):
    data = (await client.post("/api/v1/events", json={"events": events})).json()["data"]
    assert data["accepted"] + data["corrections"] == len(events)  # every event took the next seq


async def _reference(url, batches):
    """Fresh shards, in the live placement, that folded only `batches` (seqs numbered as the log did)."""
    ports = await open_shard_ports(url)
    shards = [DistrictShard(d, ports.directory, ports.enrolment, ports.event_log, ports.snapshots,
                            snapshot_every_events=10**9) for d in PLACEMENT]
    seq = 0
    for items in batches:
        batch, errors = encode([event_adapter.validate_python(x) for x in items], ports.directory)
        assert not any(errors)
        batch.seq[:] = np.arange(seq + 1, seq + len(items) + 1)
        for shard in shards:
            await shard.apply(batch, seq, seq + len(items))
        seq += len(items)
    await ports.close()
    return shards


async def test_state_as_of_a_moment_between_batches_is_what_folding_only_the_earlier_ones_gives(app, client, seeded_url):
    batches = [random_events(DIRECTORY, 300, seed=s, prefix=f"b{s}-") for s in (1, 2, 3)]
    live_shards = app.state.services.shards
    await _post(client, batches[0])
    for shard in live_shards:
        await shard.snapshot_now()  # a snapshot before the moment: the rebuild starts from it
    await _post(client, batches[1])
    await asyncio.sleep(0.05)
    moment = dt.datetime.now(dt.UTC)
    await asyncio.sleep(0.05)
    await _post(client, batches[2])
    for shard in live_shards:
        await shard.snapshot_now()  # one after it, which the rebuild must not use
    live_before = (await client.get("/api/v1/twin/state")).json()["data"]

    reference = await _reference(seeded_url, batches[:2])
    as_of = {"as_of": moment.isoformat()}
    names = geography.district_names()
    for k, shard in enumerate(reference):
        for d in PLACEMENT[k]:
            past = (await client.get(f"/api/v1/twin/districts/{names[d]}", params=as_of)).json()["data"]
            assert past["as_of_seq"] == 600
            assert _without(past, "district", *PAST) == _json(_without(shard.district(d), "as_of_seq"))
    state = StateTwin(PLACEMENT)
    for k, shard in enumerate(reference):
        state.update(k, shard.district_rows())
    past_state = (await client.get("/api/v1/twin/state", params=as_of)).json()["data"]
    assert _without(past_state, *PAST) == _json(state.state())
    assert past_state != live_before  # the third batch did change things

    for i in (0, 13, len(DIRECTORY) - 1):
        school = f"{int(DIRECTORY.school_ids[i]):011d}"
        past = (await client.get(f"/api/v1/twin/schools/{school}", params=as_of)).json()["data"]
        k = next(k for k, ds in enumerate(PLACEMENT) if int(DIRECTORY.school_district[i]) in ds)
        assert _without(past, "district", "block", *PAST) == _json(reference[k].school(i))
    block = DIRECTORY.blocks.names[int(DIRECTORY.school_block[0])]
    district = names[int(DIRECTORY.school_district[0])]
    past = (await client.get(f"/api/v1/twin/blocks/{block}", params={"district": district, **as_of})).json()["data"]
    assert _without(past, "district", *PAST) == _json(_without(reference[0].block(int(DIRECTORY.school_block[0])), "as_of_seq"))

    # the live twin is untouched, and "as of now" is the live twin
    assert (await client.get("/api/v1/twin/state")).json()["data"] == live_before
    now = (await client.get("/api/v1/twin/state", params={"as_of": dt.datetime.now(dt.UTC).isoformat()})).json()["data"]
    # the live state adds the risk desk's summary, which is not rebuilt for the past
    assert now["as_of_seq"] == 900 and _without(now, *PAST) == _without(live_before, "risk")


async def test_bad_moments_answer_the_envelope_naming_the_field(client):
    url = "/api/v1/twin/state"
    r = await client.get(url, params={"as_of": "2001-01-01T00:00:00Z"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"  # nothing received yet at all
    await _post(client, random_events(DIRECTORY, 10, seed=4))
    r = await client.get(url, params={"as_of": "2001-01-01T00:00:00Z"})
    assert r.status_code == 404 and "no events" in r.json()["error"]["message"]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    for path in (url, "/api/v1/twin/districts/Ariyalur", f"/api/v1/twin/schools/{int(DIRECTORY.school_ids[0]):011d}"):
        r = await client.get(path, params={"as_of": future})
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "as_of", path
        r = await client.get(path, params={"as_of": "yesterday"})
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "as_of", path
    r = await client.get("/api/v1/twin/schools/33000000000", params={"as_of": dt.datetime.now(dt.UTC).isoformat()})
    assert r.status_code == 404
    naive = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()  # no zone: taken as UTC
    r = await client.get(url, params={"as_of": naive})
    assert r.status_code == 200 and r.json()["data"]["as_of_seq"] == 10
