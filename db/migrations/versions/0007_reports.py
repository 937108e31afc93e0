"""report jobs, report schedules and their deliveries

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('report_jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False, comment='who asked: user:<id> or key:<id>'),
    sa.Column('request', sa.Text(), nullable=False, comment='JSON: format, kind or level, area, period, generation time'),
    sa.Column('status', sa.String(length=16), nullable=False, comment='queued, running, done or failed'),
    sa.Column('progress', sa.Text(), nullable=False, comment='JSON: stage, done, total'),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('media_type', sa.String(length=64), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=True, comment='the finished file'),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True, comment="the builder's latest sign of life"),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_report_jobs_owner_created', 'report_jobs', ['owner', 'created_at'])
    op.create_table('report_schedules',
    sa.Column('id', _SEQ, autoincrement=True, nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('report', sa.Text(), nullable=False, comment='JSON: format, kind or level, area'),
    sa.Column('area_district', sa.String(length=64), nullable=True),
    sa.Column('area_block', sa.String(length=64), nullable=True),
    sa.Column('area_school', sa.String(length=11), nullable=True),
    sa.Column('frequency', sa.String(length=16), nullable=False, comment='daily, weekly or monthly'),
    sa.Column('at_time', sa.String(length=5), nullable=False, comment='HH:MM, Asia/Kolkata'),
    sa.Column('weekday', sa.SmallInteger(), nullable=True, comment='weekly: 0 Monday .. 6 Sunday'),
    sa.Column('day_of_month', sa.SmallInteger(), nullable=True, comment='monthly: 1..28'),
    sa.Column('recipients', sa.Text(), nullable=False, comment='JSON: email addresses'),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_report_schedules_owner', 'report_schedules', ['owner'])
    op.create_table('report_deliveries',
    sa.Column('id', _SEQ, autoincrement=True, nullable=False),
    sa.Column('schedule_id', sa.BigInteger(), nullable=False),
    sa.Column('period_key', sa.String(length=32), nullable=False, comment="the due time's date in India time: one a period"),
    sa.Column('status', sa.String(length=16), nullable=False, comment='claimed, retrying, sent or failed'),
    sa.Column('claimed_by', sa.String(length=64), nullable=False, comment='the replica holding the lease'),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False, comment='when the claim lapses, or the next try'),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('recipients', sa.Text(), nullable=True, comment='JSON: to whom it was sent'),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('schedule_id', 'period_key', name='uq_report_deliveries_schedule_period'),
    )


def downgrade() -> None:
    op.drop_table('report_deliveries')
    op.drop_index('ix_report_schedules_owner', table_name='report_schedules')
    op.drop_table('report_schedules')
    op.drop_index('ix_report_jobs_owner_created', table_name='report_jobs')
    op.drop_table('report_jobs')
