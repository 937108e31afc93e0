"""Users, API keys and the audit log in the database."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.areas import area_clauses
from db.engine import writing
from db.tables import api_keys, audit_log, users
from db.times import iso, utc_now as _now
from twin.area import Area
from twin.errors import Conflict


def user_row(row) -> dict:  # noqa: ANN001
    """A user as the service works with it (secrets included: never returned by the API as is)."""
    out = {str(k): v for k, v in row._mapping.items()}
    for key in ("locked_until", "last_login_at", "created_at", "updated_at", "decided_at"):
        value = out[key]
        if value is not None and value.tzinfo is None:
            out[key] = value.replace(tzinfo=dt.UTC)
    out["mfa_recovery"] = json.loads(out["mfa_recovery"]) if out["mfa_recovery"] else []
    return out


class UserRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, values: dict) -> dict:
        now = _now()
        try:
            async with writing(self._engine) as conn:
                result = await conn.execute(insert(users).values(
                    **{"is_active": True, **values}, failed_logins=0, mfa_enabled=False, created_at=now,
                    updated_at=now))
                user_id = result.inserted_primary_key[0]
        except IntegrityError as exc:
            raise Conflict(f"a user with email {values['email']} exists", {"email": values["email"]}) from exc
        return await self.get(int(user_id))  # type: ignore[return-value]

    async def get(self, user_id: int) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
        return user_row(row) if row else None

    async def by_email(self, email: str) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.email == email.strip().lower()))).first()
        return user_row(row) if row else None

    async def update(self, user_id: int, values: dict) -> dict | None:
        if "mfa_recovery" in values:
            values = {**values, "mfa_recovery": json.dumps(values["mfa_recovery"])}
        async with writing(self._engine) as conn:
            await conn.execute(update(users).where(users.c.id == user_id).values(**values, updated_at=_now()))
        return await self.get(user_id)

    async def count_failure(self, user_id: int) -> int:
        """One more failed sign-in in a row; the new count. One statement, so failures arriving at
        two replicas at once are both counted."""
        async with writing(self._engine) as conn:
            result = await conn.execute(update(users).where(users.c.id == user_id)
                                        .values(failed_logins=users.c.failed_logins + 1, updated_at=_now())
                                        .returning(users.c.failed_logins))
            return int(result.scalar_one())

    async def use_mfa_step(self, user_id: int, step: int) -> bool:
        """Record a TOTP step as used; False when it (or a later one) was used already, so two
        requests racing with the same code cannot both pass."""
        async with writing(self._engine) as conn:
            result = await conn.execute(update(users).where(
                users.c.id == user_id, or_(users.c.mfa_last_step.is_(None), users.c.mfa_last_step < step))
                .values(mfa_last_step=step))
        return result.rowcount == 1

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(users))).scalar_one())

    async def page(self, area: Area, role: str | None, offset: int, limit: int) -> tuple[list[dict], int]:
        clauses = area_clauses(users, area) + ([users.c.role == role] if role else [])
        async with self._engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(users).where(*clauses))).scalar_one()
            rows = (await conn.execute(select(users).where(*clauses).order_by(users.c.id).offset(offset).limit(limit))).all()
        return [user_row(r) for r in rows], int(total)

    async def requests_page(self, area: Area, roles: Sequence[str], approval: str, offset: int,
                            limit: int) -> tuple[list[dict], int]:
        """Accounts asked for inside `area`, of the given roles, in the given state (oldest first:
        the queue's order)."""
        clauses = area_clauses(users, area) + [users.c.approval == approval, users.c.role.in_(list(roles))]
        async with self._engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(users).where(*clauses))).scalar_one()
            rows = (await conn.execute(select(users).where(*clauses).order_by(users.c.created_at, users.c.id)
                                       .offset(offset).limit(limit))).all()
        return [user_row(r) for r in rows], int(total)

    async def decide(self, user_id: int, values: dict) -> bool:
        """Decide a pending request; False when it was decided already. One statement, so two
        officers deciding at once cannot both win."""
        async with writing(self._engine) as conn:
            result = await conn.execute(update(users).where(users.c.id == user_id, users.c.approval == "pending")
                                        .values(**values, decided_at=_now(), updated_at=_now()))
        return result.rowcount == 1


def key_row(row) -> dict:  # noqa: ANN001
    out = {str(k): v for k, v in row._mapping.items()}
    out["scopes"] = json.loads(out["scopes"])
    return out


class ApiKeyRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, values: dict) -> dict:
        async with writing(self._engine) as conn:
            await conn.execute(insert(api_keys).values(**{**values, "scopes": json.dumps(values["scopes"])}, created_at=_now()))
        return await self.get(values["id"])  # type: ignore[return-value]

    async def get(self, key_id: str) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return key_row(row) if row else None

    async def touch(self, key_id: str) -> None:
        async with writing(self._engine) as conn:
            await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=_now()))

    async def revoke(self, key_id: str) -> None:
        async with writing(self._engine) as conn:
            await conn.execute(update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                               .values(revoked_at=_now()))

    async def list(self, area: Area) -> list[dict]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(api_keys).where(*area_clauses(api_keys, area))
                                       .order_by(api_keys.c.created_at.desc()))).all()
        return [key_row(r) for r in rows]


class AuditRepository:
    """Append-only: there is deliberately no update or delete here."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def append(self, entries: Sequence[dict]) -> None:
        rows = [{"at": _now(), "actor_role": None, "ip": None, "target": None, "district": None, "before": None,
                 "after": None, **e} for e in entries]
        for row in rows:
            for key in ("before", "after"):
                if row[key] is not None:
                    row[key] = json.dumps(row[key], default=str, sort_keys=True)
        async with writing(self._engine) as conn:
            await conn.execute(insert(audit_log), rows)

    async def page(self, area: Area, actor: str | None, action: str | None, since: dt.datetime | None,
                   until: dt.datetime | None, offset: int, limit: int) -> tuple[list[dict], int]:
        clauses = [audit_log.c.district == area.district] if area.district else []
        if actor:
            clauses.append(audit_log.c.actor == actor)
        if action:
            clauses.append(audit_log.c.action == action)
        if since:
            clauses.append(audit_log.c.at >= since)
        if until:
            clauses.append(audit_log.c.at < until)
        async with self._engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(audit_log).where(*clauses))).scalar_one()
            rows = (await conn.execute(select(audit_log).where(*clauses).order_by(audit_log.c.id.desc())
                                       .offset(offset).limit(limit))).all()
        out = []
        for row in rows:
            entry = {str(k): v for k, v in row._mapping.items()}
            entry["at"] = iso(entry["at"])
            for key in ("before", "after"):
                entry[key] = json.loads(entry[key]) if entry[key] else None
            out.append(entry)
        return out, int(total)
