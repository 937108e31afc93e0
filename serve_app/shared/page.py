"""Pages of a list: one formula for every list the API answers in pages."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from twin.errors import InvalidInput

# The query parameters of a paged list. The page number is bounded so that an absurd one is refused
# (422) rather than echoed back past what JSON's 64-bit integers hold.
PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="the page, from 1")]
PageSize = Annotated[int, Query(ge=1, le=200, description="items a page")]


class Pagination(BaseModel):
    """Where a page stands in its list (pages are numbered from 1)."""

    page: int = Field(ge=1, examples=[1])
    page_size: int = Field(ge=1, examples=[50])
    total: int = Field(ge=0, description="items in the whole list", examples=[1])
    pages: int = Field(ge=0, description="pages in the whole list at this page size", examples=[1])


def pagination(page: int, page_size: int, total: int) -> dict:
    """The `pagination` member of a page's answer."""
    return {"page": page, "page_size": page_size, "total": total, "pages": math.ceil(total / page_size)}


def offset(page: int, page_size: int) -> int:
    """The first item of `page` (numbered from 1)."""
    return (page - 1) * page_size


# A page further in than this many items is refused: reaching it walks (and, for an order no index
# keeps, sorts) every item before it, ~1 s a page at India scale's 1.08 M schools; nobody reads that
# far one page at a time, and a filter or the export gets there at once.
MAX_SKIPPED = 100_000


def bounded_offset(page: int, page_size: int, narrower: str, most: int = MAX_SKIPPED) -> int:
    """`offset(page, page_size)`, or InvalidInput naming the limit and `narrower` (how else to reach
    those items) when the page would skip more than `most` items."""
    first = offset(page, page_size)
    if first > most:
        raise InvalidInput(f"page {page} of {page_size} skips {first:,} items, over the limit of {most:,}: {narrower}",
                           {"limit": most, "skipped": first,
                            "fields": [{"field": "page", "message": f"skips more than {most:,} items"}]})
    return first
