"""Routes of the live streams (WebSockets). Thin: each builds its stream and hands the socket to a
`StreamSession`. WebSocket routes are not in the OpenAPI document: every message a client receives
is a `serve_app.streams.schemas.StreamMessage` `{"topic", "seq", "type", "data", "timestamp"}` (type
snapshot, delta, alert, notice or heartbeat), described with the routes and the close codes in
`serve_app.streams.schemas`; the session's workings in `serve_app.streams.session`.

No `from __future__ import annotations` here: Serve pickles the routes into its replicas by value."""

from typing import Annotated

from fastapi import APIRouter, Query, WebSocket

from serve_app.auth.guard import websocket_principal
from serve_app.auth.principal import Permission
from serve_app.streams.kinds import AlertStream, DashboardStream, ScenarioStream, SchoolStream
from serve_app.streams.optimisation import OptimisationStream
from serve_app.streams.session import CLOSE_UNAVAILABLE, Stream, StreamSession
from serve_app.shared.paths import API
from twin.errors import TwinError

_AFTER_SEQ = Query(ge=0, le=2**62, description="resume: the last seq this client saw on the topic")


def streams_router() -> APIRouter:
    r = APIRouter()

    @r.websocket(f"{API}/ws/dashboard")
    async def dashboard_stream(websocket: WebSocket, scope: str | None = None,
                               after_seq: Annotated[int | None, _AFTER_SEQ] = None) -> None:
        """Aggregates of a scope (`state`, `district:<name>`, `block:<district>/<block>`; default the
        reader's area) on topic `dashboard:<scope>`: a `snapshot` of the view, then a `delta` with the
        whole view each time the scope's applied seq moves (missed views are conflated to the latest)."""
        await _serve(websocket, lambda s, area: DashboardStream(s.reader, s.directory, scope, area), after_seq)

    @r.websocket(f"{API}/ws/alerts")
    async def alert_stream(websocket: WebSocket, district: str | None = None,
                           after_seq: Annotated[int | None, _AFTER_SEQ] = None) -> None:
        """New alerts of a district (topic `alerts:<district>`), or of every district in the reader's
        area (one topic each; resume with `{"resume": {topic: seq}}`): an `alert` message each, after the
        backlog asked for and a `notice` `{"live": true, "latest_seq": {topic: seq}}`."""
        await _serve(websocket, lambda s, area: AlertStream(district, s.directory, area), after_seq)

    @r.websocket(f"{API}/ws/schools/{{school_id}}")
    async def school_stream(websocket: WebSocket, school_id: str,
                            after_seq: Annotated[int | None, _AFTER_SEQ] = None) -> None:
        """One school's changes on topic `school:<id>`: a `snapshot` of its twin (or, resuming, the
        deltas missed), then a `delta` with its changed view after each event folded."""
        await _serve(websocket, lambda s, area: SchoolStream(s.directory, s.reader, school_id, area), after_seq)

    @r.websocket(f"{API}/ws/scenarios/{{run_id}}")
    async def scenario_stream(websocket: WebSocket, run_id: str,
                              after_seq: Annotated[int | None, _AFTER_SEQ] = None) -> None:
        """A what-if run on topic `scenario:<id>`: a `snapshot` of the run without its result, then a
        `delta` (`ScenarioNews`: status, each round's progress, the end) until it ends."""
        await _serve(websocket, lambda s, area: ScenarioStream(s.scenarios, run_id, area), after_seq)

    @r.websocket(f"{API}/ws/optimization")
    async def optimisation_stream(websocket: WebSocket, district: str | None = None,
                                  after_seq: Annotated[int | None, _AFTER_SEQ] = None) -> None:
        """Recommendations of a district (topic `optimisation:<district>`), or of every district in the
        reader's area: a `delta` for each new recommendation (`event: created`), status change
        (`event: status`) and comment (`event: comment`) inside the area, after the backlog asked for
        and a `notice` `{"live": true, "latest_seq": {topic: seq}}`."""
        await _serve(websocket, lambda s, area: OptimisationStream(district, area), after_seq)

    return r


async def _serve(websocket: WebSocket, make, after_seq: int | None) -> None:  # noqa: ANN001
    services = getattr(websocket.app.state, "services", None)
    if services is None or services.hub is None:
        await websocket.close(CLOSE_UNAVAILABLE, "the twin is still starting; try again shortly")
        return
    expires_at = None
    try:
        principal = await websocket_principal(websocket)
        principal.require(Permission.READ)
        stream: Stream = make(services, principal.area)
        expires_at = principal.token_expires_at  # None for an API key (revoked ones are refused at connect)
    except TwinError as exc:  # told after the handshake, as every refusal of a stream is
        stream = Refused(exc)
    await StreamSession(websocket, services.hub, services.settings.streams).run(stream, after_seq, expires_at)


class Refused:
    """A stream that cannot start: the session sends the error envelope and closes with its code."""

    topic = ""

    def __init__(self, exc: TwinError) -> None:
        self._exc = exc

    async def validate(self) -> None:
        raise self._exc

    async def start(self, session, resume) -> None:  # noqa: ANN001 - never reached
        raise self._exc

    def stop(self) -> None:
        pass
