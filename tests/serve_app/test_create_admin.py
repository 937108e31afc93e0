"""`mealtwin users create-admin`: the first state admin, from the command line, able to sign in."""

import asyncio

from typer.testing import CliRunner

from cli.main import app as mealtwin
from configs import Settings
from tests.fixtures.app import client_of, running_app


async def test_the_first_state_admin_comes_from_the_command_line(sqlite_seeded):
    env = {"MEALTWIN_DATABASE_URL": sqlite_seeded}

    async def cli(*args: str):  # noqa: ANN202 - the command runs its own event loop: off this one
        return await asyncio.to_thread(CliRunner().invoke, mealtwin, list(args), env=env)

    weak = await cli("users", "create-admin", "--email", "first@tn.gov.in", "--full-name", "First", "--password", "short")
    assert weak.exit_code == 1 and "too weak" in weak.output
    made = await cli("users", "create-admin", "--email", "first@tn.gov.in", "--full-name", "First",
                     "--password", "Noon-meal-ledger-8")
    assert made.exit_code == 0, made.output
    again = await cli("users", "create-admin", "--email", "first@tn.gov.in", "--full-name", "First",
                      "--password", "Noon-meal-ledger-8")
    assert again.exit_code == 1 and "exists" in again.output

    async with running_app(Settings(database_url=sqlite_seeded)) as app, client_of(app, role=None) as c:
        signed_in = await c.post("/api/v1/auth/login", json={"email": "first@tn.gov.in", "password": "Noon-meal-ledger-8"})
        assert signed_in.status_code == 200 and signed_in.json()["data"]["user"]["role"] == "state_admin"
