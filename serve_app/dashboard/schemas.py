"""The dashboard's JSON answers: the places its map's indices refer to, and a district's blocks
with their roll-ups. (The map and levels themselves are binary: `serve_app.dashboard.binary`.)"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from serve_app.twin.schemas import BlockTwin


class CallerArea(BaseModel):
    kind: Literal["state", "district", "block", "school"]
    district: str | None
    block: str | None
    school_id: str | None


class DistrictPlace(BaseModel):
    index: int = Field(description="the map's `district` column refers to this")
    name: str


class BlockPlace(BaseModel):
    index: int = Field(description="the map's `block` column refers to this")
    district: int = Field(description="its district's index")
    district_name: str
    name: str


class Places(BaseModel):
    """The districts and blocks wholly inside the caller's area (a block officer's district is not:
    only its block is listed)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "area": {"kind": "block", "district": "Ariyalur", "block": "Sendurai", "school_id": None},
        "districts": [],
        "blocks": [{"index": 5, "district": 0, "district_name": "Ariyalur", "name": "Sendurai"}]}]})

    area: CallerArea
    districts: list[DistrictPlace]
    blocks: list[BlockPlace]


class BlockRow(BlockTwin):
    block: str


class DistrictBlocks(BaseModel):
    district: str
    blocks: list[BlockRow] = Field(description="the district's blocks inside the caller's area")
