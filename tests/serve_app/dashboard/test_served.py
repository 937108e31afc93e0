"""The dashboard as `mealtwin up` serves it: through Ray Serve's proxy and FastAPI ingress, the
shards on Ray. The page, its modules and the binary map come through the proxy, and in Chromium the
page draws every school and goes live over the dashboard stream."""

import asyncio

import httpx
import pytest

from actors.remote import TwinCluster
from benchmarks.credentials import bench_token
from configs import Settings
from startup.actor_ports import shard_ports_opener
from startup.deployment import run_app, shutdown_app
from tests.fixtures.builders import small_directory
from tests.fixtures.ports import free_port
from tests.serve_app.dashboard.browser import launch, require_chromium
from tests.serve_app.dashboard.test_endpoints import decode_map

pytestmark = [pytest.mark.ray, pytest.mark.browser]


async def test_the_page_draws_the_state_through_serve(ray_session, sqlite_seeded):
    require_chromium()
    settings = Settings(database_url=sqlite_seeded, port=free_port())
    cluster = TwinCluster.start([[0], [1, 2]], shard_ports_opener(settings), 1000, 3600)
    try:
        await cluster.wait_ready(120)
        await asyncio.to_thread(run_app, settings)
        base = f"http://127.0.0.1:{settings.port}"
        token = bench_token(settings)  # signed with the replicas' key
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            page = await client.get("/")
            assert page.status_code == 200 and "/static/js/main.js" in page.text
            assert (await client.get("/static/js/map.js")).status_code == 200
            answer = await client.get("/api/v1/dashboard/map", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        assert len(decode_map(answer.content)["ids"]) == len(small_directory()[0])
        drawn = await asyncio.to_thread(_draw_in_chromium, base, token)
        assert drawn == (str(len(small_directory()[0])), "live")
    finally:
        shutdown_app(settings.port)
        cluster.kill()


def _draw_in_chromium(base: str, token: str) -> tuple[str, str]:
    """Open the page with a session already in the tab (the token has no account to sign in
    with), and read what it drew and whether its stream is live."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(base_url=base)
            page.goto("/")
            page.evaluate("""token => sessionStorage.setItem('mealtwin.session', JSON.stringify({access: token,
                refresh: 'none', expiresAt: Date.now() + 3600e3, user: {id: 0, full_name: 'Benchmark', role: 'state_admin',
                district: null, block: null, school_id: null}}))""", token)
            page.reload()
            expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=60_000)
            expect(page.locator("#school-map")).to_have_attribute("data-schools-drawn", str(len(small_directory()[0])),
                                                                  timeout=60_000)
            return page.get_attribute("#school-map", "data-schools-drawn"), page.get_attribute("#connection", "data-state")
        finally:
            browser.close()
