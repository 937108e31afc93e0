"""The delivery tests' receivers and recorder."""

from tests.fixtures.delivery import http, recorder, smtp  # noqa: F401 - fixtures
