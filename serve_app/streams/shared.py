"""`Shared`: a payload that every client following it is sent alike, encoded to JSON once.

The hub hands the same object to every follower of a message (a dashboard scope's view, an alert,
a school's delta): the first client's send encodes it, and every other client's frame embeds those
bytes (an `orjson.Fragment`) instead of encoding the payload again. What differs between clients
stays theirs: each frame's envelope (the topic's seq as that client last saw it, the time it is
sent) is written per client around the shared `data`. A `Shared` is a `dict`, so the streams'
filters read it as they read any payload; it must not be changed once handed out.
"""

from __future__ import annotations

from typing import Any

import orjson

ENCODING = orjson.OPT_SERIALIZE_NUMPY


class Shared(dict):
    __slots__ = ("_fragment",)

    def fragment(self) -> orjson.Fragment:
        """The payload's JSON, encoded on the first call."""
        try:
            return self._fragment
        except AttributeError:
            self._fragment = orjson.Fragment(orjson.dumps(self, option=ENCODING))
            return self._fragment


def shared(payload: Any) -> Any:
    """`payload` as a `Shared` when it is a mapping (the streams' messages are); else as it is."""
    if isinstance(payload, Shared) or not isinstance(payload, dict):
        return payload
    return Shared(payload)


def frame_data(data: Any) -> Any:
    """What a frame's `data` is encoded from: a `Shared` payload's bytes, else the payload."""
    return data.fragment() if isinstance(data, Shared) else data
