"""Field types the domains share, defined once."""

from typing import Annotated

from pydantic import Field, StringConstraints

UDISE_PATTERN = r"^\d{11}$"
UdiseCode = Annotated[str, StringConstraints(pattern=UDISE_PATTERN),
                      Field(description="11-digit UDISE code of a school (Tamil Nadu's begin 33)",
                            examples=["33010100101"])]
Timestamp = Annotated[str, Field(description="ISO 8601 in UTC with a Z, to the millisecond",
                                 examples=["2025-06-04T10:15:02.123Z"])]
