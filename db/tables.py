"""Table definitions (SQLAlchemy Core). Migrations in `db/migrations` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, Float, Index, Integer, LargeBinary, MetaData, SmallInteger,
    String, Table, Text, UniqueConstraint, func,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

# The original backend's schools schema, plus the twin's class bands, scheme flags and depot.
schools = Table(
    "schools",
    metadata,
    Column("id", String(11), primary_key=True, comment="UDISE code"),
    Column("name", String(200), nullable=False),
    Column("district", String(64), nullable=False, index=True),
    Column("block", String(64), nullable=False, index=True),
    Column("address", String(300)),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("total_students", Integer, nullable=False),
    Column("enrolment_primary", Integer, nullable=False),
    Column("enrolment_upper_primary", Integer, nullable=False),
    Column("enrolment_secondary", Integer, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("has_hostel", Boolean, nullable=False, default=False),
    Column("breakfast_scheme", Boolean, nullable=False, default=False),
    Column("depot_id", String(64), nullable=False),
    Column("risk_level", String(16), nullable=False, default="low"),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_schools_district_block_id", schools.c.district, schools.c.block, schools.c.id)  # a block's list
Index("ix_schools_district_risk_id", schools.c.district, schools.c.risk_level, schools.c.id)
# the list's default order (by name) as an index walk, not a sort of every school (1.08 M at India scale)
Index("ix_schools_active_name_id", schools.c.is_active, schools.c.name, schools.c.id)
Index("ix_schools_district_active_name_id", schools.c.district, schools.c.is_active, schools.c.name, schools.c.id)
Index("ix_schools_created_id", schools.c.created_at, schools.c.id)  # the directory's order, read by every process
# the rows changed since the stored directory's arrays were read (`db.school_arrays`)
Index("ix_schools_updated", schools.c.updated_at)

# The directory of every school as arrays (`db.school_arrays`): what each process of the twin would
# otherwise read from `schools` a row at a time (1.08 M rows at India scale). Only the latest version
# is kept; a reader takes it and the rows of `schools` changed since its `watermark`.
school_arrays = Table(
    "school_arrays",
    metadata,
    Column("version", BigInteger, primary_key=True),
    Column("part", String(16), primary_key=True, comment="ids, directory or locations"),
    Column("schools", Integer, nullable=False),
    Column("watermark", DateTime(timezone=True), nullable=False,
           comment="every change to schools after these arrays were read is stamped at or after it"),
    Column("last_created_at", DateTime(timezone=True), comment="the key (created_at, id) of the last school"),
    Column("last_id", String(11)),
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("data", LargeBinary, nullable=False, comment="the part's arrays (`twin.snapshot` format)"),
)

# The append-only event log: the source of truth. `seq` orders everything; `event_id` dedupes.
events = Table(
    "events",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("district", SmallInteger, nullable=False),
    Column("school_id", String(11)),
    Column("event_date", Date, nullable=False),
    Column("payload", Text, nullable=False, comment="the event as received, validated JSON"),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
Index("ix_events_district_seq", events.c.district, events.c.seq)
Index("ix_events_school_seq", events.c.school_id, events.c.seq)

# Snapshots of one district's twin columns at a log position, for fast recovery.
snapshots = Table(
    "snapshots",
    metadata,
    Column("district", SmallInteger, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# Deltas of one district's twin columns: the rows of its schools changed since the snapshot or
# delta before, at a log position. A chain starts from the snapshot at `base_seq` and is restored
# over it in seq order (`db.snapshot_deltas`): a large shard snapshots often without whole copies.
snapshot_deltas = Table(
    "snapshot_deltas",
    metadata,
    Column("district", SmallInteger, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("base_seq", BigInteger, nullable=False, comment="the seq of the snapshot the chain starts from"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("data", LargeBinary, nullable=False, comment="the changed rows (`twin.snapshot` format)"),
)

# Alerts raised by the twin's rules (`twin.alert_rules`): the original backend's alerts schema
# (school, type, severity, title, message, read and resolved flags) plus where it is and why.
# At most one open alert per subject and cause: the partial unique index says so to the database.
alerts = Table(
    "alerts",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("subject", String(32), nullable=False, comment="school:<UDISE code> or block:<block index>"),
    Column("school_id", String(11), index=True),
    Column("district", String(64), nullable=False),
    Column("block", String(64), nullable=False),
    Column("alert_type", String(32), nullable=False, comment="the rule's cause"),
    Column("category", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("details", Text, nullable=False, comment="JSON: the figures behind the alert"),
    Column("is_read", Boolean, nullable=False, default=False),
    Column("is_resolved", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
)
Index("ix_alerts_open_subject_cause", alerts.c.subject, alerts.c.alert_type, unique=True,
      sqlite_where=alerts.c.is_resolved == False, postgresql_where=alerts.c.is_resolved == False)  # noqa: E712
Index("ix_alerts_district_created", alerts.c.district, alerts.c.created_at)
Index("ix_alerts_district_updated", alerts.c.district, alerts.c.updated_at, alerts.c.id)  # a district's list
Index("ix_alerts_unread_open", alerts.c.is_resolved, alerts.c.is_read, alerts.c.district, alerts.c.severity)

# Who is told of which alerts, and how (email, webhook, SMS).
alert_subscriptions = Table(
    "alert_subscriptions",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("owner", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", String(500), nullable=False),
    Column("secret", String(200), comment="webhooks: the HMAC key"),
    Column("filters", Text, nullable=False, comment="JSON"),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Every delivery attempt's outcome; status "dead" is the dead-letter record after the last attempt.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger, nullable=False, index=True),
    Column("subscription_id", BigInteger, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# What-if scenario runs: the spec, progress while running, and the result (JSON documents).
scenario_runs = Table(
    "scenario_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False, comment="queued, running, done, failed or cancelled"),
    Column("districts", Text, nullable=False, comment="JSON: the districts the scenario covers (empty: the state)"),
    Column("spec", Text, nullable=False),
    Column("progress", Text, nullable=False),
    Column("result", Text),
    Column("error", Text),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("heartbeat_at", DateTime(timezone=True), comment="the runner's latest sign of life"),
    Column("finished_at", DateTime(timezone=True)),
    Column("owner", String(64), comment="who started it: user:<id> or key:<id>"),
    Column("area_district", String(64), comment="the smallest area holding all the scenario covers: its district"),
    Column("area_block", String(64), comment="... and its block, when all is in one block"),
)
Index("ix_scenario_runs_created", scenario_runs.c.created_at)
# Accounts: the original backend's users table (email, full name, role, district, block, school,
# employee id, active flag) plus what sessions need: the bcrypt hash, lockout state and TOTP.
users = Table(
    "users",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True, comment="stored lower-case"),
    Column("full_name", String(200), nullable=False),
    Column("password_hash", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("district", String(64)),
    Column("block", String(64)),
    Column("school_id", String(11)),
    Column("employee_id", String(64)),
    Column("phone", String(20)),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("last_login_at", DateTime(timezone=True)),
    Column("mfa_secret", String(64), comment="TOTP secret while enrolling or enrolled"),
    Column("mfa_enabled", Boolean, nullable=False, default=False),
    Column("mfa_last_step", BigInteger, comment="the last TOTP time step used: a code is never accepted twice"),
    Column("mfa_recovery", Text, comment="JSON: SHA-256 hashes of the unused recovery codes"),
    Column("created_by", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # an account its holder asked for waits for an officer above its area: pending, then approved
    # or rejected (with the reason); none when an admin or the command line made the account
    Column("approval", String(16), index=True,
           comment="pending, approved or rejected for a requested account; none when an admin made it"),
    Column("decided_by", String(254)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_reason", String(500)),
)

# API keys of integrations: only a hash of the secret is kept; the key is shown once.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True, comment="the key's public id (mtk_<id>_...)"),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", Text, nullable=False, comment="JSON list, e.g. [\"events:write\"]"),
    Column("district", String(64)),
    Column("block", String(64)),
    Column("school_id", String(11)),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

# Sensitive actions: who, when, from where, what changed. Append-only: no route updates or deletes.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(254), nullable=False, comment="email, user:<id>, key:<id> or the login name tried"),
    Column("actor_role", String(32)),
    Column("ip", String(64)),
    Column("action", String(64), nullable=False),
    Column("target", String(200)),
    Column("district", String(64), comment="where the target is, for scoped reads"),
    Column("outcome", String(16), nullable=False, comment="ok, denied or failed"),
    Column("before", Text, comment="JSON"),
    Column("after", Text, comment="JSON"),
)
Index("ix_audit_log_at", audit_log.c.at)
Index("ix_audit_log_actor", audit_log.c.actor)

# Optimisation: actions the twin proposes (a stock transfer), officers decide, and the log applies.
# `version` is the optimistic-concurrency counter: every decision is a compare-and-set on it.
recommendations = Table(
    "recommendations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False, comment="stock_transfer"),
    Column("status", String(16), nullable=False, comment="pending, approved, rejected, applied or superseded"),
    Column("version", Integer, nullable=False),
    Column("run_id", String(32), nullable=False, comment="the optimisation run that proposed it"),
    Column("district", String(64), nullable=False),
    Column("block", String(64), nullable=False),
    Column("school_id", String(11), nullable=False, comment="the receiving school"),
    Column("from_school_id", String(11), comment="the giving school (none: the block's depot)"),
    Column("from_depot", String(64)),
    Column("quantity_kg", Float, nullable=False, comment="weight moved, eggs by their weight: the approval limit's measure"),
    Column("cost_inr", Float, nullable=False),
    Column("children_affected", Integer, nullable=False),
    Column("twin_seq", BigInteger, nullable=False, comment="the twin's log position it was computed on"),
    Column("body", Text, nullable=False, comment="JSON: action, quantities, risk before and after, explanation"),
    Column("impact", Text, comment="JSON: the simulated effect, once verified"),
    Column("events", Text, comment="JSON: the ids of the events it became"),
    Column("apply_events", Text, comment="JSON: the events its approval writes, fixed when approved, so that an "
           "interrupted approval is finished with the very same events"),
    Column("created_by", String(254), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(254)),
    Column("decided_at", DateTime(timezone=True)),
    Column("reason", Text, comment="why it was rejected or superseded"),
)
Index("ix_recommendations_district_block_created", recommendations.c.district, recommendations.c.block,
      recommendations.c.created_at)
Index("ix_recommendations_status", recommendations.c.status)

recommendation_comments = Table(
    "recommendation_comments",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("recommendation_id", String(32), nullable=False, index=True),
    Column("parent_id", BigInteger, comment="the comment it answers (none: a new thread)"),
    Column("author", String(254), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Impact jobs: a recommendation's (or a whole run's) simulated impact computed in the background;
# any API replica reports its progress and serves its result from here, and takes over one whose
# replica died (the lease of `db.job_leases`).
impact_jobs = Table(
    "impact_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("recommendation_id", String(32), index=True, comment="the recommendation simulated (none: a run's)"),
    Column("run_id", String(32), comment="the run whose plan is simulated (none: one recommendation's)"),
    Column("owner", String(254), nullable=False, comment="who asked"),
    Column("request", Text, nullable=False, comment="JSON: horizon, replications, stress, seed, the asker's area"),
    Column("status", String(16), nullable=False, comment="queued, running, done or failed"),
    Column("progress", Text, nullable=False, comment="JSON: stage, done, total"),
    Column("result", Text, comment="JSON: the impact, once done"),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("heartbeat_at", DateTime(timezone=True), comment="the runner's latest sign of life"),
    Column("finished_at", DateTime(timezone=True)),
    Column("builder", String(128), comment="the replica holding the job while it is active; another takes it over "
                                           "once its heartbeat lapses"),
    Column("attempts", Integer, nullable=False, default=0, server_default="0",
           comment="simulations begun: bounded, so a job that kills its replica is not retried forever"),
)
Index("ix_impact_jobs_status", impact_jobs.c.status)

# Report jobs: a long report (a state-wide PDF or CSV) built in the background; its file is kept
# here so that any API replica can report its progress and serve the download.
report_jobs = Table(
    "report_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(64), nullable=False, comment="who asked: user:<id> or key:<id>"),
    Column("request", Text, nullable=False, comment="JSON: format, kind or level, area, period, generation time"),
    Column("status", String(16), nullable=False, comment="queued, running, done or failed"),
    Column("progress", Text, nullable=False, comment="JSON: stage, done, total"),
    Column("error", Text),
    Column("media_type", String(64)),
    Column("filename", String(200)),
    Column("content", LargeBinary, comment="the finished file"),
    Column("size_bytes", BigInteger),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("heartbeat_at", DateTime(timezone=True), comment="the builder's latest sign of life"),
    Column("finished_at", DateTime(timezone=True)),
    Column("builder", String(128), comment="the replica holding the job while it is active; another takes it over "
                                           "once its heartbeat lapses"),
    Column("attempts", Integer, nullable=False, default=0, server_default="0",
           comment="builds begun: bounded, so a report that kills its builder is not retried forever"),
)
Index("ix_report_jobs_owner_created", report_jobs.c.owner, report_jobs.c.created_at)
Index("ix_report_jobs_status", report_jobs.c.status)

# Scheduled reports: what to send (a CSV or PDF of an area), how often (in India time) and to whom.
report_schedules = Table(
    "report_schedules",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("owner", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("report", Text, nullable=False, comment="JSON: format, kind or level, area"),
    Column("area_district", String(64)),
    Column("area_block", String(64)),
    Column("area_school", String(11)),
    Column("frequency", String(16), nullable=False, comment="daily, weekly or monthly"),
    Column("at_time", String(5), nullable=False, comment="HH:MM, Asia/Kolkata"),
    Column("weekday", SmallInteger, comment="weekly: 0 Monday .. 6 Sunday"),
    Column("day_of_month", SmallInteger, comment="monthly: 1..28"),
    Column("recipients", Text, nullable=False, comment="JSON: email addresses"),
    Column("paused", Boolean, nullable=False, default=False),
    Column("paused_reason", String(500), comment="why the twin paused it (its owner may no longer read the area)"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,  # an id is never reused: a deleted schedule's deliveries keep theirs
)
Index("ix_report_schedules_owner", report_schedules.c.owner)

# One row per schedule and period: the claim that makes a period's report go out once, whichever
# replica gets there first, and what became of it. A claimer holds a lease; one that dies leaves it
# to expire, and another replica takes the period over.
report_deliveries = Table(
    "report_deliveries",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("schedule_id", BigInteger, nullable=False),
    Column("period_key", String(32), nullable=False, comment="the due time's date in India time: one a period"),
    Column("status", String(16), nullable=False, comment="claimed, retrying, sent or failed"),
    Column("claimed_by", String(64), nullable=False, comment="the replica holding the lease"),
    Column("lease_until", DateTime(timezone=True), nullable=False, comment="when the claim lapses, or the next try"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("recipients", Text, comment="JSON: to whom it was sent"),
    Column("size_bytes", BigInteger),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    UniqueConstraint("schedule_id", "period_key", name="uq_report_deliveries_schedule_period"),
)
