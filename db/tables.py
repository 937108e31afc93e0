"""Table definitions (SQLAlchemy Core). Migrations in `db/migrations` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, Float, Index, Integer, LargeBinary, MetaData, SmallInteger,
    String, Table, Text, func,
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
