"""Open files the twin's processes may hold: every WebSocket viewer is a socket in a replica and two
in Serve's HAProxy, and Ray's processes inherit the limit of the process that starts Ray."""

from __future__ import annotations

import resource


def haproxy_open_files(maxconn: int) -> int:
    """What HAProxy asks for at `maxconn`: two a connection (client and replica side) and a splice
    pipe (two) per four connections, plus its own; it asked for 40,996 at 16,384 and refused to start
    under a limit of 20,000."""
    return 5 * maxconn // 2 + 1024


def allow_open_files(wanted: int) -> int:
    """Raise this process's soft limit on open files to `wanted` (and the hard limit too when
    permitted, as for root). Returns the soft limit now in force, which may be less."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):  # not permitted to raise the hard limit: as far as it goes
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def maxconn_within(limit: int) -> int:
    """The largest HAProxy maxconn that `limit` open files allow."""
    return max(64, (limit - 1024) * 2 // 5)
