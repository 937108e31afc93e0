"""Builds the access-control services of an API replica from the settings: signing keys, token
issuer, revocation store and rate limiter. Replicas must agree on all of it: in Redis when
configured, else in the state every replica's services are given (the `access-state` actor);
in-process stores only for a single process (tests, the command line)."""

from __future__ import annotations

import pathlib
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from configs import Settings
from db.account_repository import ApiKeyRepository, AuditRepository, UserRepository
from serve_app.accounts.service import Accounts
from serve_app.auth.rate_limit import MemoryRateLimiter, RateLimiter
from serve_app.auth.revocation import MemoryRevocationStore, RevocationStore
from serve_app.auth.signing_keys import SigningKeys
from serve_app.auth.tokens import TokenIssuer


class SharedAccessState(RevocationStore, RateLimiter, Protocol):
    """Both ports in one store (the `access-state` actor's client)."""


def key_dir(settings: Settings) -> pathlib.Path:
    return pathlib.Path(settings.auth.jwt_key_dir or pathlib.Path(settings.data_dir) / "keys")


def signing_keys(settings: Settings) -> SigningKeys:
    """The key pair from the settings, or from its files; outside production the files are made
    on the first start (production refuses to start without keys: see `Settings`)."""
    if settings.auth.jwt_private_key is not None:
        return SigningKeys.from_pem(settings.auth.jwt_private_key.get_secret_value().encode())
    directory = key_dir(settings)
    if settings.environment == "production":
        return SigningKeys.from_pem((directory / "jwt_private.pem").read_bytes())
    return SigningKeys.load_or_create(directory)


def token_issuer(settings: Settings) -> TokenIssuer:
    return TokenIssuer(signing_keys(settings), access_ttl_s=settings.auth.access_ttl_s,
                       refresh_ttl_s=settings.auth.refresh_ttl_s)


def open_access_control(settings: Settings, engine: AsyncEngine, shared: SharedAccessState | None = None,
                        ) -> tuple[Accounts, RateLimiter, object | None]:
    """The accounts service, the rate limiter, and the Redis client behind them (None: in-process)
    for the caller to close. Without Redis, `shared` (one object that is both a revocation store
    and a rate limiter, reached by every replica) keeps the state; without either, this process does."""
    client = None
    revocations: RevocationStore
    limiter: RateLimiter
    if settings.redis_url:
        import redis.asyncio as aioredis

        from adapters.redis_access import RedisRateLimiter, RedisRevocationStore

        # short timeouts: a check waiting on a Redis that is gone would hold every request; these
        # fail fast to their safe side instead (see adapters.redis_access)
        client = aioredis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
        prefix = settings.streams.redis_prefix
        revocations = RedisRevocationStore(client, prefix=f"{prefix}auth:")
        limiter = RedisRateLimiter(client, prefix=f"{prefix}rl:")
    elif shared is not None:
        revocations, limiter = shared, shared
    else:
        revocations, limiter = MemoryRevocationStore(), MemoryRateLimiter()
    accounts = Accounts(settings.auth, UserRepository(engine), ApiKeyRepository(engine), AuditRepository(engine),
                        token_issuer(settings), revocations)
    return accounts, limiter, client


def open_access_actor_state() -> SharedAccessState:
    """The `access-state` actor's client, the actor created if this replica is the first to ask.
    Blocking (a look-up in Ray): call it from a thread."""
    from actors.access_state import RayAccessState, open_access_actor

    return RayAccessState(open_access_actor(MemoryRevocationStore(), MemoryRateLimiter()))
