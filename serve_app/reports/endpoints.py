"""Reports routes: CSV exports and the PDF report of the caller's area, or a part of it.

No `from __future__ import annotations`: this module defines routes (see `serve_app.app`)."""

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from serve_app.auth.guard import authenticated
from serve_app.reports.jobs import ReportJobs, job_request
from serve_app.reports.schemas import (
    CSV_EXAMPLE,
    SHEET_EXAMPLE,
    CsvKind,
    DashboardData,
    DashboardRole,
    JobRequest,
    PdfLevel,
    Performance,
    ReportJob,
    ReportJobPage,
    Schedule,
    ScheduleDeliveryPage,
    SchedulePage,
    ScheduleRequest,
)
from serve_app.reports.schedules import ScheduleService
from serve_app.shared.page import PageNumber, PageSize
from serve_app.reports.service import ReportService
from serve_app.shared.access import (
    allowed,
    block_in_area,
    district_in_area,
    school_in_area,
)
from serve_app.shared.app_services import services_of
from serve_app.shared.envelope import Envelope, JSONResponse, ok
from serve_app.shared.examples import errors
from serve_app.shared.fields import UDISE_PATTERN
from serve_app.shared.paths import API
from twin import geography
from twin.area import Area
from twin.errors import InvalidInput, NotFound

_District = Annotated[str | None, Query(description="district name; default the caller's", examples=["Ariyalur"])]
_Block = Annotated[str | None, Query(description="block name (with `district` when the name is not unique)",
                                     examples=["Sendurai"])]
_School = Annotated[str | None, Query(description="UDISE code", pattern=UDISE_PATTERN, examples=["33010100101"])]
_From = Annotated[dt.date | None, Query(alias="from", description="first day (YYYY-MM-DD); default 30 days "
                                                                  "ending on `to`", examples=["2025-07-01"])]
_To = Annotated[dt.date | None, Query(alias="to", description="last day, included; default the twin's day",
                                      examples=["2025-07-31"])]


def _service(request: Request) -> ReportService:
    return services_of(request).reports


def _area_of(request: Request, district: str | None, block: str | None, school_id: str | None) -> Area:
    """The asked part of the caller's area (the caller's whole area when none is asked); 404 for
    one outside it, exactly as for an unknown one."""
    principal = allowed(request)
    directory = services_of(request).directory
    names = geography.district_names()
    if school_id is not None:
        school_in_area(request, school_id)
        i = directory.index(school_id)
        area = Area(names[int(directory.school_district[i])], directory.blocks.names[int(directory.school_block[i])],
                    school_id)
        if (district and district.strip().lower() != area.district.lower()) or \
                (block and block.strip().lower() != area.block.lower()):  # type: ignore[union-attr]
            raise NotFound(f"no school {school_id}", {"school_id": school_id})  # named with another place
        return area
    if block is not None:
        _, b = block_in_area(request, block, district)
        return Area(names[int(directory.blocks.district[b])], directory.blocks.names[b])
    if district is not None:
        return Area(names[district_in_area(principal.area, district)])
    return principal.area


def reports_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/reports", tags=["reports"], dependencies=[Depends(authenticated)])

    @r.get("/export/csv", summary="Export a report as CSV", response_class=StreamingResponse,
           description="UTF-8 CSV with a header row, streamed. `kind`: `schools` (every active school of the area "
                       "with the twin's live figures: enrolment, children present and meals served on the twin's "
                       "day, rice stock in school days, the rules' risk score and level, the cascade flag, whether "
                       "its report is missing, funds released, utilised and the balance, and the financial year's "
                       "allocation by the cost norms; for one school, `metric,value` rows), `attendance` (each "
                       "school's day from `from` to `to`, from the event log), `alerts` (those open at some time "
                       "in the period by their own times; all of them when no period is asked), `risk` (each school's "
                       "score, level and factor points). The area is the caller's, or the district, block or school "
                       "asked inside it (404 outside it). A cell a spreadsheet would run as a formula (beginning "
                       "= + - @, a tab or CR) is prefixed with '. Every kind but `alerts`: an area of more schools "
                       "than the twin's limit "
                       "(`limits.report_schools`, 100,000 by default: all of India's 1.08 M are over it) answers 422 "
                       "at once naming the limit: build it as a report job (POST /reports/jobs).",
           responses={200: {"description": "The CSV", "content": {"text/csv": {
               "schema": {"type": "string"}, "examples": {"schools": {"value": CSV_EXAMPLE},
                                                          "one school": {"value": SHEET_EXAMPLE}}}}},
                      **errors(404, 422, 503)})
    async def export_csv(request: Request, kind: Annotated[CsvKind, Query(description="what the CSV holds")],
                         district: _District = None, block: _Block = None, school_id: _School = None,
                         date_from: _From = None, date_to: _To = None) -> StreamingResponse:
        area = _area_of(request, district, block, school_id)
        service = _service(request)
        if kind != CsvKind.alerts:  # the alerts' rows are the alerts, not the area's schools
            service.check_size(area, "district" if area.is_state else "school_id" if area.block else "block")
        period = await service.period(date_from, date_to)
        parts = await _started(service.csv(kind, area, period))
        name = "-".join(p.replace(" ", "_") for p in (kind.value, area.district, area.block, area.school_id) if p)
        return StreamingResponse(parts, media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})

    @r.get("/export/pdf", summary="The PDF report of the state, a district, block or school", response_class=Response,
           description="A title page with the area and the period, the key figures (schools, enrolment, meals, "
                       "attendance rate, stock days, open alerts, funds), a chart of children present and meals "
                       "served against enrolment over the period (an area's from the twin's last 35 days of daily "
                       "reports, a school's from its history in the event log), for a district its risk by block "
                       "and the ranking of its blocks, and the open alerts. `name`: the district or block name, or "
                       "the school's UDISE code; default the caller's own area at that level. The same request on "
                       "the same twin gives the same bytes: pass `generated_at` to fix the generation time shown (without it, a "
                       "report of an area whose twin and alerts have not changed may come from the read cache, "
                       "showing the time it was made). Every "
                       "report has the stock days of its schools, a map of its schools by risk, funds released "
                       "against utilised and the meals forecast for the coming week. `level=state` (state-wide "
                       "callers) answers 202 with a report job: its download is the PDF once built. A district or "
                       "block of more schools than `limits.report_schools` answers 422 naming the limit: ask for "
                       "it as a report job (POST /reports/jobs).",
           responses={200: {"description": "The PDF", "content": {"application/pdf": {
               "schema": {"type": "string", "format": "binary"}}}},
                      202: {"description": "level=state: the report job building it (see /reports/jobs/{id})",
                            "model": Envelope[ReportJob]}, **errors(404, 422, 503)})
    async def export_pdf(request: Request, level: Annotated[PdfLevel, Query(description="the report's area")],
                         name: Annotated[str | None, Query(max_length=100, examples=["Ariyalur"])] = None,
                         district: _District = None, date_from: _From = None, date_to: _To = None,
                         generated_at: Annotated[dt.datetime | None, Query(
                             description="the generation time printed on each page (ISO date-time, UTC if no "
                                         "zone); default now")] = None) -> Response:
        area = _pdf_area(request, level, name, district)
        service = _service(request)
        period = await service.period(date_from, date_to)
        moment = _moment(generated_at)
        if level == PdfLevel.state:  # the longest report: built as a job, answered at once
            return await _submitted(request, job_request("pdf", level.value, area, period, moment))
        service.check_size(area, "name")
        body = await service.cached_pdf(area, period, moment, fixed_time=generated_at is not None)
        filename = "-".join(p.replace(" ", "_") for p in (area.district, area.block, area.school_id) if p) or "state"
        return Response(body, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="report-{filename}.pdf"'})

    @r.post("/jobs", summary="Build a report in the background", status_code=202,
            description="A CSV or PDF built as a job, for reports too long to wait for (the state's PDF, a state-wide "
                        "CSV of attendance): answered at once with the job; read it for its progress, and download "
                        "the file from `download` once `status` is `done`. The job and its file are kept in the "
                        "database, so any replica of the API answers for it. Only its owner sees it.",
            response_model=Envelope[ReportJob], responses=errors(404, 422, 503))
    async def submit_job(request: Request, body: Annotated[JobRequest, Body()]) -> JSONResponse:
        service = _service(request)
        period = await service.period(body.from_, body.to)
        if body.format == "csv":
            if body.kind is None:
                raise _invalid("kind", "a CSV job names its kind")
            area = _area_of(request, body.district, body.block, body.school_id)
            what = body.kind.value
        else:
            if body.level is None:
                raise _invalid("level", "a PDF job names its level")
            area = _pdf_area(request, body.level, body.name, body.district)
            what = body.level.value
        return await _submitted(request, job_request(body.format, what, area, period, _moment(body.generated_at)))

    @r.get("/jobs", summary="Your report jobs, newest first", response_model=Envelope[ReportJobPage],
           responses=errors(422, 503))
    async def list_jobs(request: Request, page: PageNumber = 1, page_size: PageSize = 20) -> JSONResponse:
        found = await _jobs(request).page(allowed(request).subject, page, page_size)
        return ok({"jobs": [_with_link(j) for j in found["jobs"]], "pagination": found["pagination"]})

    @r.get("/jobs/{job_id}", summary="A report job: its status and progress, and its download once done",
           response_model=Envelope[ReportJob], responses=errors(404, 503))
    async def read_job(request: Request, job_id: Annotated[str, Path(max_length=32)]) -> JSONResponse:
        return ok(_with_link(await _jobs(request).get(job_id, allowed(request).subject)))

    @r.get("/jobs/{job_id}/download", summary="A finished report job's file", response_class=Response,
           description="The CSV or PDF; 409 while the job is not done.",
           responses={200: {"description": "The file", "content": {
               "application/pdf": {"schema": {"type": "string", "format": "binary"}},
               "text/csv": {"schema": {"type": "string"}}}}, **errors(404, 409, 503)})
    async def download_job(request: Request, job_id: Annotated[str, Path(max_length=32)]) -> Response:
        content, media_type, filename = await _jobs(request).download(job_id, allowed(request).subject)
        return Response(content, media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @r.post("/schedule", summary="Send a report by email on a schedule", status_code=201,
            description="A CSV or PDF of your area (or a part of it) sent to the recipients daily, weekly or monthly "
                        "at a time of day in India time (Asia/Kolkata), the file attached; each delivery covers the "
                        "day, 7 days or 30 days ending on the twin's day. Exactly once per schedule and period, "
                        "whichever replica of the API gets there first; a failed send is retried with backoff, and "
                        "every delivery is kept with its outcome (`/schedule/{id}/deliveries`). Email is sent only "
                        "where an SMTP server is configured (`MEALTWIN_ALERT_DELIVERY__SMTP_HOST`).",
            response_model=Envelope[Schedule], responses=errors(404, 422, 503))
    async def create_schedule(request: Request, body: Annotated[ScheduleRequest, Body()]) -> JSONResponse:
        if body.format == "csv":
            if body.kind is None:
                raise _invalid("kind", "a CSV schedule names its kind")
            area, what = _area_of(request, body.district, body.block, body.school_id), body.kind.value
        else:
            if body.level is None:
                raise _invalid("level", "a PDF schedule names its level")
            area, what = _pdf_area(request, body.level, body.place, body.district, "place"), body.level.value
        made = await _schedules(request).create(
            allowed(request).subject, body.name, {"format": body.format, "what": what}, area, body.frequency,
            body.at_time, body.weekday, body.day_of_month, body.recipients)
        return ok(_public(made), "Scheduled", status_code=201)

    @r.get("/schedule", summary="Your scheduled reports", response_model=Envelope[SchedulePage],
           responses=errors(422, 503))
    async def list_schedules(request: Request, page: PageNumber = 1, page_size: PageSize = 20) -> JSONResponse:
        found = await _schedules(request).page(allowed(request).subject, page, page_size)
        return ok({"schedules": [_public(s) for s in found["schedules"]], "pagination": found["pagination"]})

    @r.get("/schedule/{schedule_id}", summary="A scheduled report", response_model=Envelope[Schedule],
           responses=errors(404, 422, 503))
    async def read_schedule(request: Request, schedule_id: _ScheduleId) -> JSONResponse:
        return ok(_public(await _schedules(request).get(schedule_id, allowed(request).subject)))

    @r.post("/schedule/{schedule_id}/pause", summary="Pause a scheduled report", response_model=Envelope[Schedule],
            responses=errors(404, 422, 503))
    async def pause_schedule(request: Request, schedule_id: _ScheduleId) -> JSONResponse:
        return ok(_public(await _schedules(request).pause(schedule_id, allowed(request).subject, True)))

    @r.post("/schedule/{schedule_id}/resume", summary="Resume a paused scheduled report",
            response_model=Envelope[Schedule], responses=errors(404, 422, 503))
    async def resume_schedule(request: Request, schedule_id: _ScheduleId) -> JSONResponse:
        return ok(_public(await _schedules(request).pause(schedule_id, allowed(request).subject, False)))

    @r.delete("/schedule/{schedule_id}", summary="Delete a scheduled report (its deliveries stay on record)",
              response_model=Envelope[None], responses=errors(404, 422, 503))
    async def delete_schedule(request: Request, schedule_id: _ScheduleId) -> JSONResponse:
        await _schedules(request).delete(schedule_id, allowed(request).subject)
        return ok(None, "Deleted")

    @r.get("/schedule/{schedule_id}/deliveries", summary="A scheduled report's deliveries and their outcomes",
           response_model=Envelope[ScheduleDeliveryPage], responses=errors(404, 422, 503))
    async def schedule_deliveries(request: Request, schedule_id: _ScheduleId, page: PageNumber = 1,
                                  page_size: PageSize = 20) -> JSONResponse:
        return ok(await _schedules(request).deliveries(schedule_id, allowed(request).subject, page, page_size))

    @r.get("/dashboard/{role}", summary="The figures a role's landing page shows",
           description="For `role`'s view of an area: the twin's headline figures, schools by risk level, open "
                       "alerts by severity, the last 7 days' performance and the parts most at risk. Your own role "
                       "shows your own area; an officer may also ask for the view of a role below theirs, naming a "
                       "part of their area (`district`, `block`, `school_id`). A role above yours, or an area "
                       "outside yours, answers 404.",
           response_model=Envelope[DashboardData], responses=errors(404, 422, 503))
    async def dashboard(request: Request, role: Annotated[DashboardRole, Path()], district: _District = None,
                        block: _Block = None, school_id: _School = None) -> JSONResponse:
        level = ROLE_LEVEL[role]
        own = allowed(request).area
        if LEVELS.index(own.kind) > LEVELS.index(level):
            raise NotFound(f"no {role} view in your area", {"role": role})
        area = _area_of(request, district, block, school_id)
        if area.kind != level:
            field = {"district": "district", "block": "block", "school": "school_id"}.get(level, "role")
            raise _invalid(field, f"the {role} view is of a {level}; name one inside your area")
        return ok(await _service(request).dashboard(role, area))

    @r.get("/performance", summary="Programme performance of an area over a period",
           description="Meal coverage (meals over enrolled school-days), no-meal school-days and their reasons, "
                       "reporting compliance (school-days reported over school-days), the monitoring system's "
                       "exceptions, stock-out school-days and fund utilisation, in total and by the area's parts "
                       "(the state's districts, a district's blocks, a block's schools), each with the change from "
                       "the previous period of the same length, and the area's figures day by day. Read from the "
                       "twin's daily report record, which holds each school's last 35 days: a period outside it "
                       "answers 422 naming the field. Default: the 14 days ending on the twin's day.",
           response_model=Envelope[Performance], responses=errors(404, 422, 503))
    async def performance(request: Request, district: _District = None, block: _Block = None,
                          school_id: _School = None, date_from: _From = None, date_to: _To = None) -> JSONResponse:
        area = _area_of(request, district, block, school_id)
        service = _service(request)
        period = await service.period(date_from, date_to)
        return ok(await service.performance(area, period))

    return r


ROLE_LEVEL = {"state_admin": "state", "district_officer": "district", "block_officer": "block",
              "school_admin": "school"}
LEVELS = ("state", "district", "block", "school")
_ScheduleId = Annotated[int, Path(ge=1, le=2**62, examples=[3])]


def _schedules(request: Request) -> ScheduleService:
    return services_of(request).report_schedules


def _public(schedule: dict) -> dict:
    return {k: v for k, v in schedule.items() if k != "owner"}


def _jobs(request: Request) -> ReportJobs:
    return services_of(request).report_jobs


async def _submitted(request: Request, job: dict) -> JSONResponse:
    made = await _jobs(request).submit(allowed(request).subject, job)
    link = f"{API}/reports/jobs/{made['id']}"
    response = ok(_with_link(made), "The report is being built", status_code=202)
    response.headers["Location"] = link
    return response


def _with_link(job: dict) -> dict:
    done = job["status"] == "done"
    return {k: v for k, v in job.items() if k not in ("owner", "heartbeat_at", "builder")} | {
        "download": f"{API}/reports/jobs/{job['id']}/download" if done else None}


def _moment(generated_at: dt.datetime | None) -> dt.datetime:
    moment = generated_at or dt.datetime.now(dt.UTC)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"The request is not valid: {field}: {message}",
                        {"fields": [{"field": field, "message": message}]})


def _pdf_area(request: Request, level: PdfLevel, name: str | None, district: str | None,
              field: str = "name") -> Area:
    """The area a PDF of `level` named `name` covers, inside the caller's (404 outside it); the
    caller's own area at that level when no name is given."""
    own = allowed(request).area
    if level == PdfLevel.state:
        if not own.is_state:
            raise NotFound("no report of the state in your area", {"level": level.value})
        return own
    if name is None:
        name = {"district": own.district if not own.block else None, "block": own.block,
                "school": own.school_id}[level.value]
        district = district or own.district
    if name is None:
        raise _invalid(field, f"name the {level.value} (your area is {own.label()})")
    if level == PdfLevel.school:
        if not name.isdigit():
            raise NotFound(f"no school {name}", {"school_id": name})
        return _area_of(request, None, None, name)
    if level == PdfLevel.block:
        return _area_of(request, district, name, None)
    return _area_of(request, name, None, None)


async def _started(parts: AsyncIterator[str]) -> AsyncIterator[str]:
    """`parts` with its first part made already: what refuses a report (a school deactivated since
    the caller's area was checked, risk scoring down) is found by the first part's reads, and is
    answered in the envelope before the response starts, not as a broken stream."""
    first = await anext(parts, None)

    async def whole() -> AsyncIterator[str]:
        if first is not None:
            yield first
        async for part in parts:
            yield part
    return whole()
