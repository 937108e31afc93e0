"""Telling a database that cannot be reached (stopped, restarting, the network gone) from a query
that went wrong: the first passes and is worth retrying (the API answers 503 with Retry-After),
the second is a bug (500).

SQLAlchemy marks a connection lost mid-query (`connection_invalidated`); PostgreSQL says it is
shutting down or starting up with SQLSTATEs of class 08 and 57P0x; and a refused connection comes
out of the driver as a plain `OSError` (asyncpg does not wrap it, and "Multiple exceptions: ..."
from trying both of localhost's addresses has no errno), so it is recognised by where it was raised.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import DBAPIError

# connection exceptions; admin shutdown, crash shutdown, cannot connect now (starting up)
_UNREACHABLE_CLASSES = ("08",)
_UNREACHABLE_STATES = {"57P01", "57P02", "57P03"}
_DRIVER_MODULES = ("asyncpg", "sqlalchemy", "aiosqlite")


def database_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        return any(_unreachable_state(e) or isinstance(e, OSError) for e in (exc.orig, exc.orig.__cause__))
    if isinstance(exc, OSError) or _unreachable_state(exc):
        return _raised_in_driver(exc.__traceback__)
    return False


def _unreachable_state(exc: BaseException | None) -> bool:
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return isinstance(state, str) and (state.startswith(_UNREACHABLE_CLASSES) or state in _UNREACHABLE_STATES)


def _raised_in_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(_DRIVER_MODULES):
            return True
        tb = tb.tb_next
    return False
