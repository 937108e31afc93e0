"""The web application itself: `/` answers its page and `/static/...` its scripts, styles and
icons, committed in `serve_app/dashboard/static` (plain ES modules: no build step, nothing fetched
from another site). Not in the OpenAPI document: they are a page, not the API.

No `from __future__ import annotations` here: Serve pickles the routes into its replicas by value."""

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
FONTS = Path(__file__).parent.parent / "shared" / "fonts"  # Noto Sans Tamil, the reports' typeface too
PAGE_PATHS = ("/", "/static/")  # the edge gives these the page's security policy, and no rate limit


def mount_pages(app: FastAPI) -> None:
    r = APIRouter(include_in_schema=False)

    @r.api_route("/", methods=["GET", "HEAD"])
    async def page() -> FileResponse:
        # no-cache: a new release's page (and so its module versions) is seen at the next load
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.include_router(r)
    # before /static, which would otherwise answer the fonts' paths with a 404
    app.mount("/static/fonts", StaticFiles(directory=FONTS), name="fonts")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
