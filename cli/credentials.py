"""Credentials the command line makes: the first state admin, and the live feed's API key."""

from __future__ import annotations

import os
import pathlib

from configs import Settings
from db.engine import create_engine
from serve_app.accounts.service import Accounts
from serve_app.auth.principal import Caller
from startup.access_control import open_access_control
from serve_app.auth.errors import Unauthenticated
from serve_app.auth.principal import ROLE_PERMISSIONS, Principal, Role
from twin.area import STATE

_LOCAL = Caller("command line")


async def _with_accounts(settings: Settings, work):  # noqa: ANN001, ANN202
    engine = create_engine(settings.database_url)
    accounts, _, redis = open_access_control(settings, engine)
    try:
        return await work(accounts)
    finally:
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


async def create_admin(settings: Settings, email: str, full_name: str, password: str) -> dict:
    """A state admin, made from the command line (the API needs one to make anyone)."""
    async def work(accounts: Accounts) -> dict:
        return await accounts.register(None, {"email": email, "full_name": full_name, "password": password,
                                              "role": Role.STATE_ADMIN.value}, _LOCAL)
    return await _with_accounts(settings, work)


async def feed_api_key(settings: Settings) -> str:
    """The live feed's key (`read` and `events:write` over the state), kept in the data directory
    (owner-only) and made again if it is missing or was revoked."""
    path = pathlib.Path(settings.data_dir) / "feed.key"

    async def work(accounts: Accounts) -> str:
        if path.exists():
            plain = path.read_text().strip()
            try:
                await accounts.principal_from_key(plain)
                return plain
            except Unauthenticated:
                pass  # revoked or from another database: make a new one
        system = Principal("system:feed", Role.STATE_ADMIN.value, STATE, ROLE_PERMISSIONS[Role.STATE_ADMIN],
                           email="the live feed")
        key = await accounts.create_key(system, "live feed", ["read", "events:write"], STATE, _LOCAL)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key["key"] + "\n")
        return key["key"]
    return await _with_accounts(settings, work)
