"""The what-if scenarios API: start a run, follow it, read and compare results, cancel.

No `from __future__ import annotations`: this module defines routes (see `serve_app.app`)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from scenarios.spec import ScenarioSpec
from serve_app.shared.access import allowed
from serve_app.shared.app_services import services_of
from serve_app.auth.guard import authenticated
from serve_app.auth.principal import Permission
from serve_app.shared.envelope import Envelope, JSONResponse, ok
from serve_app.shared.examples import errors
from serve_app.scenarios.schemas import SPEC_EXAMPLE, Comparison, Run, RunPage
from serve_app.scenarios.service import ScenarioRuns
from serve_app.shared.paths import API
from serve_app.shared.page import PageNumber, PageSize
from twin.errors import InvalidInput


_Id = Annotated[str, Path(description="the run's id", pattern=r"^[0-9a-f]{32}$")]


def _runs(request: Request) -> ScenarioRuns:
    return services_of(request).scenarios


def scenarios_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/scenarios", tags=["scenarios"], dependencies=[Depends(authenticated)])

    @r.post("", summary="Start a what-if run", status_code=202,
            description="Forks the live twin (`start: live`) or the twin as it was on a past date, and runs "
                        "Monte Carlo replications of the baseline and every plan with common random numbers "
                        "until the headline KPIs' 95% intervals are within the spec's tolerance. Answers at "
                        "once with the run; follow it with GET /scenarios/{id} or WS /ws/scenarios/{id}.",
            response_model=Envelope[Run], responses=errors(403, 422))
    async def start(request: Request, spec: Annotated[ScenarioSpec, Body(examples=[SPEC_EXAMPLE])]) -> JSONResponse:
        principal = allowed(request, Permission.SCENARIOS_RUN)
        return ok(await _runs(request).start(spec, principal.subject, principal.area), "started", status_code=202)

    @r.get("", summary="List runs, newest first (without results)",
           response_model=Envelope[RunPage], responses=errors(422))
    async def list_runs(request: Request,
                        status: Annotated[Literal["queued", "running", "done", "failed", "cancelled"] | None, Query()] = None,
                        page: PageNumber = 1,
                        page_size: PageSize = 50) -> JSONResponse:
        data = await _runs(request).page(status, page, page_size, allowed(request).area)
        return ok(data, f"{data['pagination']['total']} runs")

    @r.get("/compare", summary="Compare finished runs: every plan's headline KPIs and paired differences",
           response_model=Envelope[Comparison], responses=errors(404, 409, 422))
    async def compare(request: Request,
                      ids: Annotated[str, Query(description="comma-separated run ids (1-10)")]) -> JSONResponse:
        run_ids = [i.strip() for i in ids.split(",") if i.strip()]
        if not 1 <= len(run_ids) <= 10:
            raise InvalidInput("give 1 to 10 run ids, comma-separated", {"fields": [{"field": "ids", "message": "1-10 ids"}]})
        return ok(await _runs(request).compare(run_ids, allowed(request).area))

    @r.get("/{run_id}", summary="A run: status, progress, and its result when done",
           response_model=Envelope[Run], responses=errors(404, 422))
    async def get_run(request: Request, run_id: _Id) -> JSONResponse:
        return ok(await _runs(request).get(run_id, allowed(request).area))

    @r.post("/{run_id}/cancel", summary="Cancel a queued or running run (it stops after its current round)",
            response_model=Envelope[Run], responses=errors(403, 404, 409, 422))
    async def cancel(request: Request, run_id: _Id) -> JSONResponse:
        principal = allowed(request, Permission.SCENARIOS_RUN)
        return ok(await _runs(request).cancel(run_id, principal.area), "cancel requested")

    return r
