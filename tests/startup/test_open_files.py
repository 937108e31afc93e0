"""Open files for HAProxy's connections: what it asks for, and the largest maxconn a limit allows."""

from __future__ import annotations

import resource

from startup.open_files import allow_open_files, haproxy_open_files, maxconn_within


def test_haproxy_asks_for_what_it_asked_for_when_measured() -> None:
    # HAProxy refused to start at maxconn 16,384 asking for 40,996 open files under a limit of 20,000
    assert haproxy_open_files(16_384) >= 40_996


def test_the_maxconn_within_a_limit_needs_no_more_than_the_limit() -> None:
    for limit in (2_000, 20_000, 65_536, 1_048_576):
        fits = maxconn_within(limit)
        assert haproxy_open_files(fits) <= limit < haproxy_open_files(fits + 2)


def test_the_limit_is_raised_as_far_as_permitted() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
        assert allow_open_files(hard + 10_000) in (hard, hard + 10_000)  # beyond the hard limit: only as root
        assert allow_open_files(512) >= 512  # already enough: left alone
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
