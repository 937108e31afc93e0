"""what-if scenario runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scenario_runs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False, comment='queued, running, done, failed or cancelled'),
    sa.Column('districts', sa.Text(), nullable=False, comment='JSON: the districts the scenario covers (empty: the state)'),
    sa.Column('spec', sa.Text(), nullable=False),
    sa.Column('progress', sa.Text(), nullable=False),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True, comment="the runner's latest sign of life"),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_scenario_runs_created', 'scenario_runs', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_scenario_runs_created', table_name='scenario_runs')
    op.drop_table('scenario_runs')
