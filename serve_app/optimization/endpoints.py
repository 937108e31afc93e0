"""The optimisation API: recompute recommendations from the live twin, list and read them, verify
one by simulation, approve or reject it, and comment on it.

No `from __future__ import annotations`: this module defines routes (see `serve_app.app`)."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from serve_app.auth.guard import authenticated, caller_of
from serve_app.auth.principal import Permission
from serve_app.optimization.impact_jobs import ImpactJobs
from serve_app.optimization.schemas import (
    Comment,
    CommentRequest,
    Decision,
    Edit,
    Impact,
    ImpactJob,
    Kind,
    Recommendation,
    RecommendationPage,
    Rejection,
    RunImpact,
    RunRequest,
    RunSummary,
    Status,
)
from serve_app.optimization.service import OptimisationService
from serve_app.shared.access import allowed
from serve_app.shared.app_services import services_of
from serve_app.shared.envelope import Envelope, JSONResponse, ok
from serve_app.shared.examples import errors
from serve_app.shared.page import PageNumber, PageSize
from serve_app.shared.paths import API

_Id = Annotated[str, Path(description="the recommendation's id", pattern=r"^[0-9a-f]{32}$")]
_Place = Annotated[str | None, Query(max_length=64)]


def _service(request: Request) -> OptimisationService:
    return services_of(request).optimisation


def _jobs(request: Request) -> ImpactJobs:
    return services_of(request).impact_jobs


def optimization_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/optimization", tags=["optimization"], dependencies=[Depends(authenticated)])

    @r.post("/run", summary="Recompute the recommendations of an area from the live twin",
            description="Solves the stock rebalancing LP over the area's schools as the twin holds them now "
                        "(depot and neighbour arcs, donors keep their buffer, depot stock and vehicle capacity), "
                        "the delivery schedule on what it leaves, and the fund advances LP, and stores one "
                        "recommendation per source and receiver, per depot visit and per advance. The twin keeps "
                        "no depot stock or vehicles: `assumptions` says what the models took. The area's pending "
                        "recommendations are superseded: they were computed on an older state.",
            response_model=Envelope[RunSummary], responses=errors(403, 404, 422))
    async def run(request: Request, body: Annotated[RunRequest, Body()] = RunRequest()) -> JSONResponse:
        principal = allowed(request, Permission.SCENARIOS_RUN)
        data = await _service(request).run(principal, caller_of(request), body.district, body.block,
                                           frozenset(body.models))
        return ok(data, f"{data['recommendations']} recommendations")

    @r.get("/recommendations", summary="List recommendations in your area, newest first",
           response_model=Envelope[RecommendationPage], responses=errors(404, 422))
    async def list_recommendations(request: Request, status: Annotated[Status | None, Query()] = None,
                                   kind: Annotated[Kind | None, Query()] = None, district: _Place = None,
                                   block: _Place = None,
                                   run_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$")] = None,
                                   page: PageNumber = 1, page_size: PageSize = 50) -> JSONResponse:
        data = await _service(request).page(allowed(request).area, status, kind, page, page_size, district, block,
                                            run_id)
        return ok(data, f"{data['pagination']['total']} recommendations")

    @r.get("/recommendations/{rec_id}", summary="One recommendation",
           response_model=Envelope[Recommendation], responses=errors(404, 422))
    async def get_recommendation(request: Request, rec_id: _Id) -> JSONResponse:
        return ok(await _service(request).get(rec_id, allowed(request).area))

    @r.patch("/recommendations/{rec_id}", summary="Edit a pending recommendation's quantities",
             description="Checked against the LP's constraints on the live twin: for a transfer, the receiver's "
                         "deficit, the giving school's buffer, the depot's stock and the block's vehicle; for an "
                         "advance (`amount_inr`), the block's balance less its other live advances and the "
                         "school's need to the horizon (422 naming the one broken). "
                         "Its risk after is recomputed and it is verified again by simulation (its new `impact`).",
             response_model=Envelope[Recommendation], responses=errors(403, 404, 409, 422))
    async def edit(request: Request, rec_id: _Id, body: Annotated[Edit, Body()]) -> JSONResponse:
        principal = allowed(request, Permission.SCENARIOS_RUN)
        items = body.model_dump(include={"rice_kg", "pulses_kg", "oil_kg", "eggs"})
        return ok(await _service(request).edit(rec_id, principal, caller_of(request), items, body.version,
                                               body.amount_inr), "edited")

    @r.post("/approve/{rec_id}", summary="Approve a pending recommendation: it becomes events in the log",
            description="Re-reads the live twin first: a recommendation the twin no longer allows is superseded "
                        "(409). Exactly one approval wins (409 for the others). A block officer approves up to "
                        "the configured weight; above it a district officer decides (403).",
            response_model=Envelope[Recommendation], responses=errors(403, 404, 409, 422))
    async def approve(request: Request, rec_id: _Id, body: Annotated[Decision, Body()] = Decision()) -> JSONResponse:
        principal = allowed(request, Permission.SCENARIOS_RUN)
        return ok(await _service(request).approve(rec_id, principal, caller_of(request), body.version), "applied")

    @r.post("/reject/{rec_id}", summary="Reject a pending recommendation, with a reason",
            response_model=Envelope[Recommendation], responses=errors(403, 404, 409, 422))
    async def reject(request: Request, rec_id: _Id, body: Annotated[Rejection, Body()]) -> JSONResponse:
        principal = allowed(request, Permission.SCENARIOS_RUN)
        return ok(await _service(request).reject(rec_id, principal, caller_of(request), body.reason, body.version),
                  "rejected")

    # before /impact/{rec_id}, which would otherwise take "jobs" for a recommendation's id
    @r.get("/impact/jobs", summary="The impact jobs you started, newest first",
           description="Each with its stage, and its result once done, as `GET /optimization/impact/jobs/{job_id}` "
                       "gives it.", response_model=Envelope[list[ImpactJob]], responses=errors(422))
    async def my_impact_jobs(request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> JSONResponse:
        return ok(await _jobs(request).mine(allowed(request), limit))

    @r.get("/impact/{rec_id}", summary="Simulate the recommendation's effect on children's meals",
           description="Runs the scenario engine from the live twin's state of the recommendation's block with "
                       "common random numbers: no action, the greedy baseline, this recommendation, and its run's "
                       "whole plan for the block. No-meal child-days and stock-out school-days with 95% intervals "
                       "and paired differences, and transport cost. It answers when the simulation is done "
                       "(seconds for a block at the defaults): for more replications or a long horizon, start "
                       "it as a job (`POST /optimization/impact/{rec_id}/jobs`) and poll that.",
           response_model=Envelope[Impact], responses=errors(404, 422))
    async def impact(request: Request, rec_id: _Id,
                     horizon_days: Annotated[int, Query(ge=5, le=60)] = 20,
                     replications: Annotated[int, Query(ge=2, le=200)] = 20,
                     stress: Annotated[bool, Query(description="a monsoon week with roads cut and deliveries "
                                                               "a week late")] = True) -> JSONResponse:
        return ok(await _service(request).impact(rec_id, allowed(request).area, horizon_days, replications, stress))

    @r.post("/impact/{rec_id}/jobs", summary="Start the recommendation's impact simulation as a job",
            description="Answers at once (202) with the job; poll `GET /optimization/impact/jobs/{job_id}` (any "
                        "replica answers) for its stage and, once done, the impact (stored with the "
                        "recommendation too).", status_code=202,
            response_model=Envelope[ImpactJob], responses=errors(404, 422))
    async def start_impact_job(request: Request, rec_id: _Id,
                               horizon_days: Annotated[int, Query(ge=5, le=60)] = 20,
                               replications: Annotated[int, Query(ge=2, le=200)] = 20,
                               stress: Annotated[bool, Query()] = True) -> JSONResponse:
        job = await _jobs(request).submit(rec_id, allowed(request), horizon_days, replications, stress)
        return ok(job, "started", status_code=202)

    @r.get("/impact/jobs/{job_id}", summary="An impact job: its stage, and its result once done",
           response_model=Envelope[ImpactJob], responses=errors(404, 422))
    async def impact_job(request: Request, job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]) -> JSONResponse:
        return ok(await _jobs(request).get(job_id, allowed(request).area))

    @r.get("/runs/{run_id}/impact", summary="Simulate a whole run's plan against no action and the greedy baselines",
           description="The run's pending and approved recommendations inside your area, transfers and advances "
                       "together, simulated as for one recommendation, from the smallest area holding them.",
           response_model=Envelope[RunImpact], responses=errors(404, 422))
    async def run_impact(request: Request, run_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
                         horizon_days: Annotated[int, Query(ge=5, le=60)] = 20,
                         replications: Annotated[int, Query(ge=2, le=200)] = 20,
                         stress: Annotated[bool, Query()] = True) -> JSONResponse:
        return ok(await _service(request).run_impact(run_id, allowed(request).area, horizon_days, replications,
                                                     stress))

    @r.post("/runs/{run_id}/impact/jobs", summary="Start a whole run's impact simulation as a job",
            description="The run's plan as `GET /optimization/runs/{run_id}/impact` simulates it (its pending and "
                        "approved recommendations inside your area), in the background: answers at once (202); "
                        "poll `GET /optimization/impact/jobs/{job_id}` for its stage and, once done, the result.",
            status_code=202, response_model=Envelope[ImpactJob], responses=errors(404, 422))
    async def start_run_impact_job(request: Request, run_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
                                   horizon_days: Annotated[int, Query(ge=5, le=60)] = 20,
                                   replications: Annotated[int, Query(ge=2, le=200)] = 20,
                                   stress: Annotated[bool, Query()] = True) -> JSONResponse:
        job = await _jobs(request).submit_run(run_id, allowed(request), horizon_days, replications, stress)
        return ok(job, "started", status_code=202)

    @r.get("/recommendations/{rec_id}/comments", summary="The comments on a recommendation, oldest first",
           response_model=Envelope[list[Comment]], responses=errors(404, 422))
    async def comments(request: Request, rec_id: _Id) -> JSONResponse:
        return ok(await _service(request).comments(rec_id, allowed(request).area))

    @r.post("/recommendations/{rec_id}/comments", summary="Comment on a recommendation (or answer a comment)",
            status_code=201, response_model=Envelope[Comment], responses=errors(404, 422))
    async def add_comment(request: Request, rec_id: _Id, body: Annotated[CommentRequest, Body()]) -> JSONResponse:
        principal = allowed(request)
        return ok(await _service(request).comment(rec_id, principal, body.body, body.parent_id), "commented",
                  status_code=201)

    return r
