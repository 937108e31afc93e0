"""Builds the access-control services of an API replica from the settings: signing keys, token
issuer, revocation store and rate limiter (in Redis when configured, so every replica agrees)."""

from __future__ import annotations

import pathlib

from sqlalchemy.ext.asyncio import AsyncEngine

from configs import Settings
from db.account_repository import ApiKeyRepository, AuditRepository, UserRepository
from serve_app.auth.accounts import Accounts
from serve_app.auth.rate_limit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from serve_app.auth.revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from serve_app.auth.signing_keys import SigningKeys
from serve_app.auth.tokens import TokenIssuer


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


def open_access_control(settings: Settings, engine: AsyncEngine) -> tuple[Accounts, RateLimiter, object | None]:
    """The accounts service, the rate limiter, and the Redis client behind them (None: in-process)
    for the caller to close."""
    client = None
    revocations: RevocationStore
    limiter: RateLimiter
    if settings.redis_url:
        import redis.asyncio as aioredis

        client = aioredis.from_url(settings.redis_url)
        prefix = settings.streams.redis_prefix
        revocations = RedisRevocationStore(client, prefix=f"{prefix}auth:")
        limiter = RedisRateLimiter(client, prefix=f"{prefix}rl:")
    else:
        revocations, limiter = MemoryRevocationStore(), MemoryRateLimiter()
    accounts = Accounts(settings.auth, UserRepository(engine), ApiKeyRepository(engine), AuditRepository(engine),
                        token_issuer(settings), revocations)
    return accounts, limiter, client
