"""The read cache's keys of an area's reports (its performance, its PDF): each names everything the
report is read from that can change, so nothing is invalidated by hand:

- the area and the period asked;
- the twin under the area: for each of its districts the last log seq folded into it, and each
  of their shards' day and schools hosted (a new event, a new day, a school registered);
- the alerts' version (`db.alert_versions`): officers' and the rules' changes to the alerts
  reach the reports without any event in the log;
- anything else the caller names (a PDF's printed generation time, when asked for one).

Not in the key, so kept up to the cache's TTL: the risk scores a PDF shows (the desk scores a
moment after the shards fold) and the served forecaster's version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import orjson

from twin.area import Area
from twin.ports import ShardStatus


def twin_under(area_district: int | None, statuses: Sequence[ShardStatus]) -> list:
    """What the area's figures are folded from: the state's every district, else its district's."""
    out = []
    for status in statuses:
        seqs = dict(zip(status["districts"], status.get("district_seqs") or [status["applied_seq"]] * len(status["districts"])))
        if area_district is None:
            out.append([status["today"], status["schools"], sorted(seqs.items())])
        elif area_district in seqs:
            out.append([status["today"], status["schools"], seqs[area_district]])
    return out


def report_key(kind: str, area: Area, first: str, last: str, asked: bool, twin: list, alerts_version: int,
               extra: str | None = None) -> str:
    named = orjson.dumps([area.district, area.block, area.school_id, first, last, asked, twin, alerts_version, extra])
    return f"report:{kind}:{hashlib.blake2b(named, digest_size=16).hexdigest()}"
