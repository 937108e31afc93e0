"""Alerts as officers read them: pages, single alerts, read marks, unread counts, and
subscriptions to their delivery (raised and resolved by the risk desk's rules, never here)."""

from __future__ import annotations

from db.alert_repository import AlertRepository, AlertScope
from serve_app.alerts.delivery.target_guard import refused_by_name
from serve_app.alerts.schemas import NewSubscription
from serve_app.shared.access import alert_in_area
from serve_app.shared.page import bounded_offset, pagination
from serve_app.shared.places import block_index, district_index
from twin import geography
from twin.area import STATE, Area
from twin.directory import Directory
from twin.errors import InvalidInput, NotFound


class AlertService:
    def __init__(self, repo: AlertRepository, directory: Directory, private_targets: bool = False) -> None:
        self._repo = repo
        self._directory = directory
        self._private_targets = private_targets  # webhooks to the twin's own network (see target_guard)

    async def page(self, where: AlertScope, page: int, page_size: int) -> dict:
        first = bounded_offset(page, page_size, "narrow the list by district, block, school, severity or status")
        rows, total = await self._repo.page(where, first, page_size)
        return {"alerts": rows, "pagination": pagination(page, page_size, total)}

    async def get(self, alert_id: int, area: Area = STATE) -> dict:
        found = await self._repo.get(alert_id)
        if found is None or not alert_in_area(area, self._directory, found):
            raise NotFound(f"no alert {alert_id}", {"alert_id": alert_id})
        return found

    async def mark_read(self, alert_id: int, area: Area = STATE) -> dict:
        await self.get(alert_id, area)
        return await self._repo.mark_read(alert_id)

    async def unread_count(self, where: AlertScope) -> dict:
        return await self._repo.unread_count(where)

    async def version(self) -> int:
        """Changes with every write to the alerts, by any replica or the rules (`db.alert_versions`)."""
        return await self._repo.version()

    async def subscribe(self, sub: NewSubscription, area: Area = STATE) -> dict:
        if sub.channel == "webhook" and not sub.secret:
            raise InvalidInput("a webhook subscription needs a `secret` (16+ characters) to sign its bodies",
                               {"fields": [{"field": "secret", "message": "required for webhooks"}]})
        if sub.channel == "webhook" and not self._private_targets and (reason := refused_by_name(sub.target)):
            raise InvalidInput(f"this webhook target is not allowed: {reason}",
                               {"fields": [{"field": "target", "message": reason}]})
        filters = sub.filters.model_dump(mode="json") | {
            "within_district": area.district, "within_block": area.block, "within_school": area.school_id}
        return await self._repo.subscribe(sub.owner, sub.channel, sub.target, sub.secret, filters)

    def scope(self, district: str | None, block: str | None, school_id: str | None, area: Area = STATE,
              **filters) -> AlertScope:  # noqa: ANN003
        """Filters, with names checked against the directory (unknown ones answer 404)."""
        if district is not None:
            district = geography.district_names()[district_index(district)]
        if block is not None:
            block = self._directory.blocks.names[block_index(self._directory, block, district)]
        if school_id is not None:
            i = self._directory.index(school_id)
            if i < 0 or not area.covers_index(self._directory, i):
                raise NotFound(f"no school {school_id}", {"school_id": school_id})
        return AlertScope(district=district, block=block, school_id=school_id, area=area, **filters)
