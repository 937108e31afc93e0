"""Times as the database keeps them and as the API shows them. SQLite hands timestamps back
without a zone: they were written in UTC, so that is what they are read as."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the millisecond (the one format of every time the API shows),
    or None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """Now, as `iso` writes it."""
    return iso(utc_now())  # type: ignore[return-value]
