"""The schools domain's request and response shapes: a school as a client states it, a school as
the API answers it (one, a page, a search hit), and what a CSV import did."""

from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from serve_app.shared.fields import Timestamp, UdiseCode
from serve_app.shared.page import Pagination
from twin import geography
from twin.directory import BlockTable

RiskLevel = Literal["low", "medium", "high", "critical"]
TAMIL_NADU_STATE_CODE = "33"  # the first two digits of every Tamil Nadu school's UDISE code


@cache
def blocks() -> BlockTable:
    return BlockTable.from_geography()


class SchoolFields(BaseModel):
    """What a client states about a school (`total_students` is derived: the sum of the bands)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    district: Annotated[str, Field(description="a Tamil Nadu district, e.g. Ariyalur")]
    block: Annotated[str, Field(description="a block (panchayat union) of that district")]
    address: Annotated[str | None, Field(max_length=300)] = None
    latitude: Annotated[float, Field(ge=geography.LAT_RANGE[0], le=geography.LAT_RANGE[1])]
    longitude: Annotated[float, Field(ge=geography.LON_RANGE[0], le=geography.LON_RANGE[1])]
    enrolment_primary: Annotated[int, Field(ge=0, le=20_000, description="children in classes 1-5")]
    enrolment_upper_primary: Annotated[int, Field(ge=0, le=20_000, description="children in classes 6-8")]
    enrolment_secondary: Annotated[int, Field(ge=0, le=20_000, description="children in classes 9-10")]
    capacity: Annotated[int, Field(ge=0, le=50_000, description="children the kitchen can serve a day")]
    has_hostel: bool = False
    breakfast_scheme: bool = False
    depot_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    risk_level: RiskLevel = "low"

    @field_validator("district")
    @classmethod
    def _known_district(cls, value: str) -> str:
        try:
            return geography.district_names()[geography.district_index(value)]
        except KeyError:
            raise ValueError(f"unknown district {value!r}") from None

    @field_validator("block")
    @classmethod
    def _block_of_district(cls, value: str, info: ValidationInfo) -> str:
        district = info.data.get("district")
        if district is None:
            return value  # the district's own error says what is wrong
        try:
            return blocks().names[blocks().index(geography.district_index(district), value)]
        except KeyError:
            raise ValueError(f"no block {value!r} in district {district}") from None

    def to_row(self) -> dict:
        row = self.model_dump()
        row["total_students"] = self.enrolment_primary + self.enrolment_upper_primary + self.enrolment_secondary
        return row


class SchoolCreate(SchoolFields):
    id: UdiseCode

    @field_validator("id")
    @classmethod
    def _in_tamil_nadu(cls, value: str) -> str:
        if not value.startswith(TAMIL_NADU_STATE_CODE):
            raise ValueError(f"a Tamil Nadu school's UDISE code starts {TAMIL_NADU_STATE_CODE}")
        return value


class SchoolUpdate(SchoolFields):
    """The whole school as it should be (PUT). `is_active` left out keeps it as it is."""

    is_active: bool | None = None


class SchoolCsvRow(SchoolCreate):
    is_active: bool = True


_EXAMPLE = {
    "id": "33010100101", "name": "PUMS Ariyalur East", "district": "Ariyalur", "block": "Ariyalur",
    "address": "Main Road, Ariyalur", "latitude": 11.14, "longitude": 79.08, "enrolment_primary": 84,
    "enrolment_upper_primary": 30, "enrolment_secondary": 0, "capacity": 140, "has_hostel": False,
    "breakfast_scheme": True, "depot_id": "DEPOT-0", "risk_level": "low",
}
CREATE_EXAMPLE = _EXAMPLE
UPDATE_EXAMPLE = {k: v for k, v in _EXAMPLE.items() if k != "id"} | {"enrolment_primary": 90}
_SCHOOL = {**_EXAMPLE, "total_students": 114, "is_active": True, "created_at": "2025-06-02T09:00:00.000Z",
           "updated_at": "2025-06-02T09:00:00.000Z"}


class School(BaseModel):
    """A school as the API answers it: the register's row."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SCHOOL]})

    id: UdiseCode
    name: str
    district: str
    block: str
    address: str | None
    latitude: float
    longitude: float
    total_students: int = Field(description="the sum of the three enrolment bands")
    enrolment_primary: int
    enrolment_upper_primary: int
    enrolment_secondary: int
    capacity: int
    has_hostel: bool
    breakfast_scheme: bool
    depot_id: str
    risk_level: RiskLevel
    is_active: bool = Field(description="false once deactivated (soft-deleted)")
    created_at: Timestamp
    updated_at: Timestamp


class SchoolPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"schools": [_SCHOOL], "pagination": {"page": 1, "page_size": 50, "total": 1, "pages": 1}}]})

    schools: list[School]
    pagination: Pagination


class SearchHit(School):
    model_config = ConfigDict(json_schema_extra={"examples": [{**_SCHOOL, "rank": 2}]})

    rank: int = Field(ge=0, le=3, description="0 exact code, 1 code prefix, 2 name or block prefix, "
                                              "3 name or block substring")


class RowError(BaseModel):
    field: str | None = Field(description="the column at fault; null when the row as a whole is")
    message: str


class RejectedRow(BaseModel):
    line: int = Field(description="its line in the file (the header is line 1)")
    id: str | None = Field(description="its `id` cell as written, if it had one")
    errors: list[RowError]


class ImportResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1, "rejected_rows": [
            {"line": 3, "id": "33019900001", "errors": [
                {"field": "block", "message": "no block 'Nowhere' in district Ariyalur"}]}]}]})

    created: int
    updated: int
    unchanged: int = Field(description="rows equal to the register already")
    rejected: int
    rejected_rows: list[RejectedRow] = Field(description="by line")


class DirectoryEntry(BaseModel):
    """A school as the public directory shows it, for someone asking for its admin's account: where
    it is, nothing of its state."""

    id: str = Field(description="UDISE code", examples=["33010500100"])
    name: str = Field(examples=["PUMS Sendurai"])
    district: str = Field(examples=["Ariyalur"])
    block: str = Field(examples=["Sendurai"])
