"""A small twin served over real HTTP and WebSockets for a browser: synthetic schools of every
district (real coordinates from the generator), in-process shards, uvicorn in a thread, and one
account of each role. `python -m tests.serve_app.dashboard.served_twin` runs it by hand."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from configs import Settings
from db.engine import create_engine
from db.migrate import upgrade_async
from db.school_repository import SchoolRepository
from serve_app.app import create_api
from serve_app.auth.principal import Caller
from startup.access_control import open_access_control
from startup.runtime import generate_schools_into
from startup.services import open_local_services
from tests.fixtures.ports import free_port

SCHOOLS = 1_200  # every block has at least one: the whole state is drawn
PASSWORD = "Noon-meal-2025"


@dataclass
class Account:
    email: str
    role: str
    district: str | None = None
    block: str | None = None
    school_id: str | None = None


@dataclass
class ServedTwin:
    base_url: str
    app: object
    accounts: dict[str, Account]
    rows: list[dict]  # the schools as the register holds them

    @property
    def services(self):  # noqa: ANN201 - startup.services.Services
        return self.app.state.services  # type: ignore[attr-defined]


async def prepare(database_url: str) -> tuple[dict[str, Account], list[dict]]:
    """Migrate, write the schools, and make an account of each role (over the first school's
    district, block and school)."""
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    try:
        repo = SchoolRepository(engine)
        await generate_schools_into(repo, SCHOOLS, seed=3)
        rows = await repo.all()
        first = next(r for r in rows if r["district"] == "Ariyalur")
        accounts = {
            "state": Account("state@example.org", "state_admin"),
            "district": Account("district@example.org", "district_officer", first["district"]),
            "block": Account("block@example.org", "block_officer", first["district"], first["block"]),
            "school": Account("school@example.org", "school_admin", first["district"], first["block"], first["id"]),
            "mfa": Account("mfa@example.org", "block_officer", first["district"], first["block"]),
        }
        settings = Settings(database_url=database_url)
        access, _, _ = open_access_control(settings, engine)
        for a in accounts.values():
            await access.register(None, {"email": a.email, "full_name": f"Test {a.role}",
                                                   "password": PASSWORD, "role": a.role, "district": a.district,
                                                   "block": a.block, "school_id": a.school_id}, Caller("test"))
        return accounts, rows
    finally:
        await engine.dispose()


@contextmanager
def served_twin(database_url: str, port: int | None = None,
                prepared: tuple[dict[str, Account], list[dict]] | None = None) -> Iterator[ServedTwin]:
    """The twin served until the block ends; `prepared`: what `prepare` answered, when the caller
    ran it already."""
    accounts, rows = prepared or asyncio.run(prepare(database_url))
    settings = Settings(database_url=database_url)
    app = create_api(lambda: open_local_services(settings), settings)
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the twin's server did not start")
        time.sleep(0.05)
    try:
        yield ServedTwin(f"http://127.0.0.1:{port}", app, accounts, rows)
    finally:
        server.should_exit = True
        thread.join(30)


if __name__ == "__main__":
    import sys
    import tempfile

    folder = tempfile.mkdtemp(prefix="dashboard-")
    with served_twin(f"sqlite+aiosqlite:///{folder}/twin.db", int(sys.argv[1]) if len(sys.argv) > 1 else 8765) as twin:
        print(f"{twin.base_url}/  accounts: {[a.email for a in twin.accounts.values()]} password {PASSWORD}", flush=True)
        while True:
            time.sleep(3600)
