"""Domain errors. Everything the twin raises derives from `TwinError`; the API maps them to HTTP."""


class TwinError(Exception):
    """Root of every domain error."""

    code = "TWIN_ERROR"

    def __init__(self, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(TwinError):
    code = "NOT_FOUND"


class InvalidInput(TwinError):
    code = "VALIDATION_ERROR"


class Unavailable(TwinError):
    """A part of the twin (a shard, the database) cannot answer right now."""

    code = "SERVICE_UNAVAILABLE"


class Conflict(TwinError):
    """The request clashes with what exists, e.g. creating a school whose id is taken."""

    code = "CONFLICT"
