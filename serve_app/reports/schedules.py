"""Scheduled reports: stored in the database with their owner and area; read, listed, paused,
resumed and deleted by their owner only (another's schedule is as unknown as a missing one).
Sending them is `scheduled_delivery`'s job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from serve_app.shared.page import offset, pagination
from twin.area import Area
from twin.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from db.report_schedule_repository import ReportScheduleRepository


class ScheduleService:
    def __init__(self, repo: ReportScheduleRepository) -> None:
        self._repo = repo

    async def create(self, owner: str, name: str, report: dict, area: Area, frequency: str, at_time: str,
                     weekday: int | None, day_of_month: int | None, recipients: list[str]) -> dict:
        if frequency == "weekly" and weekday is None:
            raise _invalid("weekday", "a weekly schedule names its weekday (0 Monday .. 6 Sunday)")
        if frequency == "monthly" and day_of_month is None:
            raise _invalid("day_of_month", "a monthly schedule names its day of the month (1..28)")
        return await self._repo.create(owner, {
            "name": name, "report": report, "frequency": frequency, "at_time": at_time,
            "weekday": weekday if frequency == "weekly" else None,
            "day_of_month": day_of_month if frequency == "monthly" else None,
            "recipients": sorted(set(r.strip().lower() for r in recipients)),
            "area": {"district": area.district, "block": area.block, "school_id": area.school_id}})

    async def get(self, schedule_id: int, owner: str) -> dict:
        found = await self._repo.get(schedule_id)
        if found is None or found["owner"] != owner:
            raise NotFound(f"no report schedule {schedule_id}", {"schedule_id": schedule_id})
        return found

    async def page(self, owner: str, page: int, page_size: int) -> dict:
        rows, total = await self._repo.page(owner, offset(page, page_size), page_size)
        return {"schedules": rows, "pagination": pagination(page, page_size, total)}

    async def pause(self, schedule_id: int, owner: str, paused: bool) -> dict:
        await self.get(schedule_id, owner)
        await self._repo.set_paused(schedule_id, paused)
        return await self.get(schedule_id, owner)

    async def delete(self, schedule_id: int, owner: str) -> None:
        await self.get(schedule_id, owner)
        await self._repo.delete(schedule_id)

    async def deliveries(self, schedule_id: int, owner: str, page: int, page_size: int) -> dict:
        await self.get(schedule_id, owner)
        rows, total = await self._repo.deliveries(schedule_id, offset(page, page_size), page_size)
        return {"deliveries": rows, "pagination": pagination(page, page_size, total)}


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"The request is not valid: {field}: {message}",
                        {"fields": [{"field": field, "message": message}]})
