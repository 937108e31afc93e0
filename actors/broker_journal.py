"""`BrokerJournal`: the embedded broker's history on disk, so that a broker actor restarted in
place (a crash, `kill -9`) comes back with the messages it kept and numbers on from them, and a
resuming client loses nothing.

Every `publish_many` appends its messages to the current journal segment in one write, before
anyone can read them: a killed process loses nothing the operating system was given. Now and then
the broker hands over everything it keeps (`rewrite`): a new segment starts at once, and a thread
writes the kept messages as a snapshot (to a temporary file, then renamed) and deletes the
segments it covers; so the files stay about as large as the history itself.

`load` reads the snapshot and the segments after it. A segment cut short (the machine stopped
mid-write) is read up to the cut, and `load` says so (`complete` false): messages were then given
out that are gone, and the broker must number on above them (see `actors.broker.first_seq_now`).

A record: seq (u64), wall-clock time (f64), topic length (u16), payload length (u32), then the
topic (UTF-8) and the payload (JSON).
"""

from __future__ import annotations

import logging
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<QdHI")
_SNAPSHOT = "broker.snapshot"
_SEGMENT = re.compile(r"broker\.(\d+)\.journal$")
_PARTS_PER_WRITE = 512  # within the system's limit of buffers in one writev (IOV_MAX, 1,024 on Linux)

Record = tuple[str, int, float, bytes]  # topic, seq, wall-clock time published, JSON payload


@dataclass
class Loaded:
    records: list[Record]  # in publish order per topic (snapshot first, then the segments)
    complete: bool  # False: a file ended mid-record, so some published messages were lost


class BrokerJournal:
    def __init__(self, directory: str) -> None:
        self._dir = directory
        os.makedirs(directory, exist_ok=True)
        segments = self._segments()
        self._segment = (segments[-1] + 1) if segments else 1  # never append after a possibly cut record
        self._fd = _open_for_appends(self._segment_path(self._segment))
        self.bytes_since_rewrite = 0

    def _segment_path(self, n: int) -> str:
        return os.path.join(self._dir, f"broker.{n}.journal")

    def _segments(self) -> list[int]:
        return sorted(int(m.group(1)) for name in os.listdir(self._dir) if (m := _SEGMENT.match(name)))

    def append(self, records: Iterable[Record]) -> None:
        """Hand the records to the operating system now (a killed process then loses nothing),
        the large payloads without first copying them into one buffer."""
        parts = [part for record in records for part in _parts(record)]
        for start in range(0, len(parts), _PARTS_PER_WRITE):
            chunk = parts[start : start + _PARTS_PER_WRITE]
            size = sum(len(part) for part in chunk)
            written = os.writev(self._fd, chunk)
            if written < size:  # a short write (a full disk, a signal): the rest in one piece
                rest = b"".join(chunk)[written:]
                while rest:
                    rest = rest[os.write(self._fd, rest):]
            self.bytes_since_rewrite += size

    def start_rewrite(self) -> int:
        """Begin a new segment for what is published from now on; returns the last segment the
        snapshot of what is kept now will cover (pass it to `rewrite`)."""
        os.close(self._fd)
        covered = self._segment
        self._segment += 1
        self._fd = _open_for_appends(self._segment_path(self._segment))
        self.bytes_since_rewrite = 0
        return covered

    def rewrite(self, kept: Iterable[Record], covered: int) -> int:
        """Write `kept` as the snapshot and delete the segments up to `covered` (run off the event
        loop). Returns the snapshot's size in bytes."""
        temporary = os.path.join(self._dir, _SNAPSHOT + ".tmp")
        size = 0
        with open(temporary, "wb") as out:
            for record in kept:
                data = _encode(record)
                out.write(data)
                size += len(data)
        os.replace(temporary, os.path.join(self._dir, _SNAPSHOT))
        for n in self._segments():
            if n <= covered:
                os.remove(self._segment_path(n))
        return size

    def load(self) -> Loaded:
        records: list[Record] = []
        complete = True
        paths = [os.path.join(self._dir, _SNAPSHOT)] + [self._segment_path(n) for n in self._segments()]
        for path in paths:
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            whole = True
            for record in _decode(data):
                if record is None:
                    whole = False
                    break
                records.append(record)
            if not whole:
                log.warning("%s ends mid-record: the broker's last messages before it stopped are lost", path)
                complete = False
        return Loaded(records, complete)

    def close(self) -> None:
        os.close(self._fd)

    def discard(self) -> None:
        """Remove every file of the journal (removing needs no free space) and stop writing."""
        self.close()
        for name in os.listdir(self._dir):
            if name.startswith("broker."):
                os.remove(os.path.join(self._dir, name))


def _open_for_appends(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def _parts(record: Record) -> tuple[bytes, bytes]:
    topic, seq, wall, payload = record
    name = topic.encode()
    return _HEADER.pack(seq, wall, len(name), len(payload)) + name, payload


def _encode(record: Record) -> bytes:
    return b"".join(_parts(record))


def _decode(data: bytes) -> Iterator[Record | None]:
    """The records of `data`, then None if it ends mid-record."""
    at = 0
    while at < len(data):
        if at + _HEADER.size > len(data):
            yield None
            return
        seq, wall, n_topic, n_payload = _HEADER.unpack_from(data, at)
        at += _HEADER.size
        if at + n_topic + n_payload > len(data):
            yield None
            return
        topic = data[at : at + n_topic].decode()
        payload = data[at + n_topic : at + n_topic + n_payload]
        at += n_topic + n_payload
        yield topic, seq, wall, payload
