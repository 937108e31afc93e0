"""The messages of the live streams (WebSockets). WebSocket routes do not appear in the OpenAPI
document, so the protocol is described here, by models.

Routes (all under `/api/v1`, signed in with `?access_token=` or the bearer header):

| route | topic(s) | snapshot `data` | then |
|---|---|---|---|
| `/ws/schools/{school_id}` | `school:<id>` | the school's twin (as `GET /twin/schools/{id}`) | `delta`: the school's changed view |
| `/ws/alerts?district=` | `alerts:<district>` (one per district without `district`) | none: a `notice` `{"live": true, "latest_seq": {topic: seq}}` | `alert`: an alert |
| `/ws/dashboard?scope=` | `dashboard:<scope>`, scope `state`, `district:<name>` or `block:<district>/<block>` | the scope's aggregates (as `GET /twin/...`) | `delta`: the aggregates when the scope's applied seq moved |
| `/ws/scenarios/{run_id}` | `scenario:<id>` | the run without its result (as `GET /scenarios/{id}`) | `delta`: the run's news (`ScenarioNews`) |
| `/ws/optimization?district=` | `optimisation:<district>` (one per district without `district`) | none: a `notice` `{"live": true, "latest_seq": {topic: seq}}` | `delta`: a recommendation's news inside the reader's area (`RecommendationNews`) |

Every server message is a `StreamMessage`. `seq` is per topic and increasing; notices and heartbeats
repeat the last seq sent on their topic, so a client can resume from any message it saw: reconnect
with `?after_seq=N`, or send `ResumeRequest` as the first message. A refused stream gets the error
envelope (`serve_app.shared.envelope.ErrorEnvelope`), then a close with code 4404 (unknown school,
district, block or run), 4400 (bad parameters), 4401 (credentials missing or expired), 4403
(forbidden) or 1013 (the twin is starting). A client that cannot keep up gets a `FellBehind` notice
and the latest of each conflated delta; one whose send times out is closed with 4408. A `resume`
sent later than first is answered with a notice `{"message": ...}` saying so.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from serve_app.scenarios.schemas import RunProgress
from serve_app.shared.fields import Timestamp

MessageType = Literal["snapshot", "delta", "alert", "notice", "heartbeat"]


class StreamMessage(BaseModel):
    """One server message on a stream."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"topic": "school:33010100101", "seq": 2918, "type": "delta",
         "data": {"school_id": "33010100101", "seq": 2918, "present_today": 47, "meals_today": 46},
         "timestamp": "2025-06-04T10:15:02.123Z"},
        {"topic": "alerts:Ariyalur", "seq": 0, "type": "notice",
         "data": {"live": True, "latest_seq": {"alerts:Ariyalur": 0}}, "timestamp": "2025-06-04T10:15:02.123Z"},
        {"topic": "school:33010100101", "seq": 2918, "type": "heartbeat", "data": None,
         "timestamp": "2025-06-04T10:15:22.130Z"},
    ]})

    topic: str = Field(description="school:<id>, alerts:<district>, dashboard:<scope> or scenario:<run id>",
                       examples=["school:33010100101"])
    seq: int = Field(ge=0, description="the topic's position: resume after it with ?after_seq= "
                                       "(notices and heartbeats repeat the last one sent)")
    type: MessageType = Field(description="snapshot: the whole view; delta: a change of it (or the latest view); "
                                          "alert: a new alert; notice: about the stream itself; heartbeat: idle")
    data: Any = Field(description="by topic and type (see the module); null for heartbeats. It is the "
                                  "view the matching HTTP route answers, so its shape is that route's "
                                  "model, not repeated here")
    timestamp: Timestamp


class ResumeRequest(BaseModel):
    """A client's first message, to resume: a seq for a stream of one topic, or {topic: seq}."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"resume": 2918},
                                                              {"resume": {"alerts:Ariyalur": 12}}]})

    resume: int | dict[str, int]


class LiveNotice(BaseModel):
    """Alerts have no snapshot: this notice says the stream is live, and each topic's seq to resume from."""

    live: Literal[True]
    latest_seq: dict[str, int]


class TooOld(BaseModel):
    """The seq asked to resume from is older than the history kept (or from before the broker started):
    a snapshot follows (alerts: every alert still kept)."""

    too_old: Literal[True]
    after_seq: int | None
    message: str


class FellBehind(BaseModel):
    """The client was not keeping up: `conflated` older deltas were dropped for the latest ones."""

    fell_behind: Literal[True]
    conflated: int
    message: str


class BrokerState(BaseModel):
    """Live updates paused (`degraded`: the stream broker does not answer, as while Redis is down)
    or resumed; sent on the stream's own topic to every open stream of the replica."""

    degraded: bool
    broker: Literal["unreachable", "back"]
    message: str


class Missed(BaseModel):
    """Messages of this topic after `after_seq` are gone (the broker came back without its
    history): read the current state again; updates go on from `next_seq`."""

    missed: Literal[True]
    after_seq: int
    next_seq: int
    message: str


class ScenarioNews(BaseModel):
    """A `delta` of a scenario stream: the run's status, and its progress (running) or outcome."""

    run_id: str
    status: Literal["running", "done", "failed", "cancelled"]
    progress: RunProgress | None = Field(default=None, description="after each round of replications")
    replications: int | None = Field(default=None, description="when it ended: replications run")
    stop_reason: str | None = Field(default=None, description="when it ended: converged, max_replications, cancelled")
    error: str | None = Field(default=None, description="why it failed")


class RecommendationNews(BaseModel):
    """News of a recommendation (`serve_app.optimization`): created by a run, its status changed
    (approved and applied, rejected, superseded, edited: read it again), or a comment on it."""

    model_config = ConfigDict(extra="allow")
    event: Literal["created", "status", "comment"]
    id: str = Field(description="the recommendation's id")
    district: str
    block: str
    school_id: str = Field(description="the receiving school")
    status: str | None = Field(default=None, description="created and status: its status")
    version: int | None = Field(default=None, description="status: its version now")
    reason: str | None = Field(default=None, description="status: why it was rejected or superseded")
    comment: dict | None = Field(default=None, description="comment: the comment, as GET .../comments lists it")


NOTICES = (LiveNotice, TooOld, FellBehind, BrokerState, Missed)


def stream_schemas(ref_template: str = "#/components/schemas/{model}") -> dict[str, dict]:
    """The JSON schemas of the stream messages, by name, for the OpenAPI document's components."""
    out: dict[str, dict] = {}
    for model in (StreamMessage, ResumeRequest, *NOTICES, ScenarioNews, RecommendationNews):
        schema = model.model_json_schema(ref_template=ref_template)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out
