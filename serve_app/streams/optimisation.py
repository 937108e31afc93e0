"""The recommendations stream: new recommendations, status changes (approved, applied, rejected,
superseded) and comments, for everyone whose area covers them.

One broker topic a district (`optimisation:<district>`, as `serve_app.optimization.service`
publishes); read as every district-topic stream is (`serve_app.streams.district_topics`)."""

from __future__ import annotations

from typing import Any

from serve_app.optimization.service import optimisation_topic
from serve_app.streams.district_topics import DistrictTopicsStream
from twin import geography


class OptimisationStream(DistrictTopicsStream):
    prefix = "optimisation"
    kind = "delta"
    too_old_then = "list the recommendations again"

    def broker_topic(self, district: int) -> str:
        return optimisation_topic(geography.district_names()[district])

    def inside(self, message: Any) -> bool:
        """Whole blocks only, as the API reads them (a school's area sees no recommendations)."""
        return isinstance(message, dict) and self._area.covers_block(message.get("district"), message.get("block"))
