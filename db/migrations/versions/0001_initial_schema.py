"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('district', sa.SmallInteger(), nullable=False),
    sa.Column('school_id', sa.String(length=11), nullable=True),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False, comment='the event as received, validated JSON'),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_district_seq', ['district', 'seq'], unique=False)
        batch_op.create_index('ix_events_school_seq', ['school_id', 'seq'], unique=False)

    op.create_table('schools',
    sa.Column('id', sa.String(length=11), nullable=False, comment='UDISE code'),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('district', sa.String(length=64), nullable=False),
    sa.Column('block', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('total_students', sa.Integer(), nullable=False),
    sa.Column('enrolment_primary', sa.Integer(), nullable=False),
    sa.Column('enrolment_upper_primary', sa.Integer(), nullable=False),
    sa.Column('enrolment_secondary', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('has_hostel', sa.Boolean(), nullable=False),
    sa.Column('breakfast_scheme', sa.Boolean(), nullable=False),
    sa.Column('depot_id', sa.String(length=64), nullable=False),
    sa.Column('risk_level', sa.String(length=16), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schools_block'), ['block'], unique=False)
        batch_op.create_index(batch_op.f('ix_schools_district'), ['district'], unique=False)

    op.create_table('snapshots',
    sa.Column('district', sa.SmallInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('district', 'seq')
    )


def downgrade() -> None:
    op.drop_table('snapshots')
    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schools_district'))
        batch_op.drop_index(batch_op.f('ix_schools_block'))

    op.drop_table('schools')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_school_seq')
        batch_op.drop_index('ix_events_district_seq')

    op.drop_table('events')
