"""A benchmark signs its load in like any client, and lifts the edge's per-client limits: a load
generator is one address sending thousands of requests a minute on purpose."""

from __future__ import annotations

from configs import Settings
from configs.settings import Auth, Limits, Models

UNLIMITED = Limits(requests_per_minute=10**9, user_requests_per_minute=10**9, key_requests_per_minute=10**9,
                   login_per_minute=10**9, ingest_per_minute=10**9)


def bench_settings(**values) -> Settings:  # noqa: ANN003
    """Settings for a benchmark's own twin: unlimited edge, tokens that outlast the run, and no model
    training in the background to disturb what is measured."""
    return Settings(limits=UNLIMITED, auth=Auth(access_ttl_s=86_400), models=Models(bootstrap=False, retrain_daily=False),
                    **values)


def bench_token(settings: Settings) -> str:
    """A state admin's access token signed with the twin's key (the benchmark runs the twin)."""
    from startup.access_control import token_issuer

    token, _ = token_issuer(settings).issue_access("system:benchmark", "state_admin", None, None, None)
    return token
