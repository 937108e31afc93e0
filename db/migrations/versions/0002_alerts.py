"""alerts, alert subscriptions and delivery attempts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', _id, autoincrement=True, nullable=False),
    sa.Column('subject', sa.String(length=32), nullable=False, comment='school:<UDISE code> or block:<block index>'),
    sa.Column('school_id', sa.String(length=11), nullable=True),
    sa.Column('district', sa.String(length=64), nullable=False),
    sa.Column('block', sa.String(length=64), nullable=False),
    sa.Column('alert_type', sa.String(length=32), nullable=False, comment="the rule's cause"),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('details', sa.Text(), nullable=False, comment='JSON: the figures behind the alert'),
    sa.Column('is_read', sa.Boolean(), nullable=False),
    sa.Column('is_resolved', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_alerts_school_id', 'alerts', ['school_id'])
    op.create_index('ix_alerts_district_created', 'alerts', ['district', 'created_at'])
    op.create_index('ix_alerts_open_subject_cause', 'alerts', ['subject', 'alert_type'], unique=True,
                    sqlite_where=sa.text('is_resolved = 0'), postgresql_where=sa.text('is_resolved = false'))
    op.create_table('alert_subscriptions',
    sa.Column('id', _id, autoincrement=True, nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=True, comment='webhooks: the HMAC key'),
    sa.Column('filters', sa.Text(), nullable=False, comment='JSON'),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('alert_deliveries',
    sa.Column('id', _id, autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.BigInteger(), nullable=False),
    sa.Column('subscription_id', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_alert_deliveries_alert_id', 'alert_deliveries', ['alert_id'])


def downgrade() -> None:
    op.drop_table('alert_deliveries')
    op.drop_table('alert_subscriptions')
    op.drop_index('ix_alerts_open_subject_cause', table_name='alerts')
    op.drop_index('ix_alerts_district_created', table_name='alerts')
    op.drop_index('ix_alerts_school_id', table_name='alerts')
    op.drop_table('alerts')
