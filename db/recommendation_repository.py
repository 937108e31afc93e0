"""Optimisation recommendations and their comments in the database.

Every decision is a compare-and-set on the row's `version` and status: of two officers approving
at the same moment, or one approval retried, exactly one write matches; the other reads what
happened instead (the caller answers it 409)."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db.areas import area_clauses
from db.engine import writing
from db.tables import recommendation_comments, recommendations
from db.times import iso, utc_now
from twin.area import Area

PENDING, APPROVED, REJECTED, APPLIED, SUPERSEDED = "pending", "approved", "rejected", "applied", "superseded"
STATUSES = (PENDING, APPROVED, REJECTED, APPLIED, SUPERSEDED)


def _row(row) -> dict:  # noqa: ANN001
    return {"id": row.id, "kind": row.kind, "status": row.status, "version": row.version, "run_id": row.run_id,
            "district": row.district, "block": row.block, "school_id": row.school_id,
            "from_school_id": row.from_school_id, "from_depot": row.from_depot,
            "quantity_kg": row.quantity_kg, "cost_inr": row.cost_inr, "children_affected": row.children_affected,
            "twin_seq": row.twin_seq, **json.loads(row.body),
            "impact": json.loads(row.impact) if row.impact else None,
            "events": json.loads(row.events) if row.events else [],
            "created_by": row.created_by, "created_at": iso(row.created_at), "decided_by": row.decided_by,
            "decided_at": iso(row.decided_at), "reason": row.reason}


def _applied_on(row) -> str | None:  # noqa: ANN001
    """The date of the events an applied recommendation became."""
    events = json.loads(row.apply_events) if row.status == APPLIED and row.apply_events else []
    return events[0]["date"] if events else None


_COLUMNS = ("id", "kind", "run_id", "district", "block", "school_id", "from_school_id", "from_depot", "quantity_kg",
            "cost_inr", "children_affected", "twin_seq")


class RecommendationRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create_many(self, recs: list[dict], created_by: str) -> None:
        """Store new pending recommendations: each dict holds `_COLUMNS` and, as `body`, the rest."""
        if not recs:
            return
        now = utc_now()
        rows = [{**{k: r[k] for k in _COLUMNS}, "body": json.dumps(r["body"]), "status": PENDING, "version": 1,
                 "created_by": created_by, "created_at": now} for r in recs]
        async with writing(self._engine) as conn:
            await conn.execute(insert(recommendations), rows)

    async def get(self, rec_id: str) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(recommendations).where(recommendations.c.id == rec_id))).first()
        return _row(row) if row else None

    async def page(self, area: Area, status: str | None, kind: str | None, offset: int, limit: int,
                   run_id: str | None = None) -> tuple[list[dict], int]:
        """Recommendations inside `area` (their receiving school's block), newest first."""
        clauses = area_clauses(recommendations, area)
        for column, value in (("status", status), ("kind", kind), ("run_id", run_id)):
            if value is not None:
                clauses.append(recommendations.c[column] == value)
        query = (select(recommendations).where(*clauses)
                 .order_by(recommendations.c.created_at.desc(), recommendations.c.id).offset(offset).limit(limit))
        async with self._engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(recommendations).where(*clauses))).scalar_one()
            rows = (await conn.execute(query)).all()
        return [_row(r) for r in rows], int(total)

    async def transition(self, rec_id: str, version: int, from_status: str, to_status: str, *,
                         decided_by: str | None = None, reason: str | None = None,
                         events: list[str] | None = None, apply_events: list[dict] | None = None) -> bool:
        """Move `rec_id` from `from_status` at `version` to `to_status` (version + 1). False when
        someone else changed it first. `apply_events`: the events the approval writes, stored with it."""
        values: dict = {"status": to_status, "version": version + 1}
        if decided_by is not None:
            values |= {"decided_by": decided_by, "decided_at": utc_now()}
        if reason is not None:
            values["reason"] = reason
        if events is not None:
            values["events"] = json.dumps(events)
        if apply_events is not None:
            values["apply_events"] = json.dumps(apply_events)
        async with writing(self._engine) as conn:
            result = await conn.execute(update(recommendations).where(
                recommendations.c.id == rec_id, recommendations.c.version == version,
                recommendations.c.status == from_status).values(**values))
        return bool(result.rowcount)

    async def edit(self, rec_id: str, version: int, body: dict, quantity_kg: float, cost_inr: float) -> bool:
        """New quantities for a pending recommendation (compare-and-set as `transition`); its impact
        is cleared, since it no longer describes this plan."""
        async with writing(self._engine) as conn:
            result = await conn.execute(update(recommendations).where(
                recommendations.c.id == rec_id, recommendations.c.version == version,
                recommendations.c.status == PENDING).values(
                body=json.dumps(body), quantity_kg=quantity_kg, cost_inr=cost_inr, impact=None, version=version + 1))
        return bool(result.rowcount)

    async def set_impact(self, rec_id: str, version: int, impact: dict) -> bool:
        """The simulated effect of the recommendation as it stood at `version` (not a decision: the version stays)."""
        async with writing(self._engine) as conn:
            result = await conn.execute(update(recommendations).where(
                recommendations.c.id == rec_id, recommendations.c.version == version).values(impact=json.dumps(impact)))
        return bool(result.rowcount)

    async def supersede_pending(self, area: Area, reason: str, keep_run: str | None = None) -> list[str]:
        """Mark every pending recommendation inside `area` (but those of run `keep_run`) superseded; their ids."""
        clauses = [*area_clauses(recommendations, area), recommendations.c.status == PENDING]
        if keep_run is not None:
            clauses.append(recommendations.c.run_id != keep_run)
        async with writing(self._engine) as conn:
            ids = (await conn.execute(select(recommendations.c.id).where(*clauses))).scalars().all()
            if ids:
                await conn.execute(update(recommendations).where(recommendations.c.id.in_(ids),
                                                                 recommendations.c.status == PENDING).values(
                    status=SUPERSEDED, version=recommendations.c.version + 1, reason=reason, decided_at=utc_now()))
        return list(ids)

    async def apply_events(self, rec_id: str) -> list[dict]:
        """The events an approval of `rec_id` writes, as fixed when it was approved ([]: none yet)."""
        async with self._engine.connect() as conn:
            text = (await conn.execute(select(recommendations.c.apply_events)
                                       .where(recommendations.c.id == rec_id))).scalar_one_or_none()
        return json.loads(text) if text else []

    async def approved_unapplied(self, decided_before: dt.datetime, area: Area | None = None,
                                 limit: int = 500) -> list[dict]:
        """Recommendations approved before `decided_before` whose events were never confirmed in the
        log (an approval interrupted between its two writes), oldest first."""
        clauses = [recommendations.c.status == APPROVED, recommendations.c.decided_at < decided_before]
        if area is not None:
            clauses += area_clauses(recommendations, area)
        query = select(recommendations).where(*clauses).order_by(recommendations.c.decided_at).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_row(r) for r in rows]

    async def vehicle_loads(self, area: Area, kinds: tuple[str, ...], decided_since: dt.datetime) -> list[dict]:
        """Recommendations of `kinds` inside `area` that may load a block's vehicle now: pending,
        approved, or applied since `decided_since`, each with `applied_on`, the date of the events
        it became (None until applied)."""
        clauses = [*area_clauses(recommendations, area), recommendations.c.kind.in_(kinds),
                   or_(recommendations.c.status.in_((PENDING, APPROVED)),
                       and_(recommendations.c.status == APPLIED, recommendations.c.decided_at >= decided_since))]
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(recommendations).where(*clauses))).all()
        return [_row(r) | {"applied_on": _applied_on(r)} for r in rows]

    # -- comments ------------------------------------------------------------------------------------
    async def add_comment(self, rec_id: str, author: str, body: str, parent_id: int | None) -> dict:
        async with writing(self._engine) as conn:
            result = await conn.execute(insert(recommendation_comments).returning(recommendation_comments.c.id), {
                "recommendation_id": rec_id, "parent_id": parent_id, "author": author, "body": body,
                "created_at": utc_now()})
            comment_id = int(result.scalar_one())
        return (await self.comments(rec_id, comment_id))[0]

    async def comments(self, rec_id: str, comment_id: int | None = None) -> list[dict]:
        """The comments on `rec_id` in the order written (or the one comment `comment_id`)."""
        c = recommendation_comments.c
        clauses = [c.recommendation_id == rec_id] + ([c.id == comment_id] if comment_id is not None else [])
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(recommendation_comments).where(*clauses).order_by(c.id))).all()
        return [{"id": int(r.id), "recommendation_id": r.recommendation_id, "parent_id": r.parent_id,
                 "author": r.author, "body": r.body, "created_at": iso(r.created_at)} for r in rows]


__all__ = ["APPLIED", "APPROVED", "PENDING", "REJECTED", "STATUSES", "SUPERSEDED", "RecommendationRepository"]
