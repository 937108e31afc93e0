"""`Shared`: a payload that every client following it is sent alike, encoded to JSON once.

The hub hands the same object to every follower of a message (a dashboard scope's view, an alert,
a school's delta). Its delta or alert frame is then the same for each of them too: the topic as
clients see it, the message's seq, its type, the payload and the time the frame was made; so the
whole frame is encoded once per (topic, seq, type), by the first client's send, and every other
client's send writes that same text (`Shared.frame`). Frames that differ between clients are
encoded per client around the payload's bytes (`frame_data`, an `orjson.Fragment`): a snapshot (the
time it is sent), notices and heartbeats (they repeat that client's own last seq). A `Shared` is a
`dict`, so the streams' filters read it as they read any payload; it must not be changed once
handed out.
"""

from __future__ import annotations

from typing import Any

import orjson

from db.times import now_iso

ENCODING = orjson.OPT_SERIALIZE_NUMPY


class Shared(dict):
    __slots__ = ("_fragment", "_frames")

    def fragment(self) -> orjson.Fragment:
        """The payload's JSON, encoded on the first call."""
        try:
            return self._fragment
        except AttributeError:
            self._fragment = orjson.Fragment(orjson.dumps(self, option=ENCODING))
            return self._fragment

    def frame(self, topic: str, seq: int, kind: str) -> str:
        """The whole frame of this payload on `topic` at `seq`, as every client is sent it: encoded
        on the first call for that topic, seq and kind, stamped with the time it was made."""
        key = (topic, seq, kind)
        try:
            frames = self._frames
        except AttributeError:
            frames = self._frames = {}
        text = frames.get(key)
        if text is None:
            text = frames[key] = orjson.dumps({"topic": topic, "seq": seq, "type": kind, "data": self.fragment(),
                                               "timestamp": now_iso()}, option=ENCODING).decode()
        return text


def shared(payload: Any) -> Any:
    """`payload` as a `Shared` when it is a mapping (the streams' messages are); else as it is."""
    if isinstance(payload, Shared) or not isinstance(payload, dict):
        return payload
    return Shared(payload)


def frame_data(data: Any) -> Any:
    """What a frame's `data` is encoded from: a `Shared` payload's bytes, else the payload."""
    return data.fragment() if isinstance(data, Shared) else data
