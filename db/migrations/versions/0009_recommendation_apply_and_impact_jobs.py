"""recommendations: the events an approval writes, fixed when it is approved; impact jobs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('recommendations') as batch:
        batch.add_column(sa.Column('apply_events', sa.Text(), nullable=True,
                                   comment='JSON: the events its approval writes, fixed when approved, so that an '
                                           'interrupted approval is finished with the very same events'))
    op.create_table('impact_jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('recommendation_id', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=254), nullable=False, comment='who asked'),
    sa.Column('request', sa.Text(), nullable=False, comment='JSON: horizon, replications, stress, seed'),
    sa.Column('status', sa.String(length=16), nullable=False, comment='queued, running, done or failed'),
    sa.Column('progress', sa.Text(), nullable=False, comment='JSON: stage, done, total'),
    sa.Column('result', sa.Text(), nullable=True, comment='JSON: the impact, once done'),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True, comment="the runner's latest sign of life"),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_impact_jobs_recommendation_id', 'impact_jobs', ['recommendation_id'])


def downgrade() -> None:
    op.drop_index('ix_impact_jobs_recommendation_id', table_name='impact_jobs')
    op.drop_table('impact_jobs')
    with op.batch_alter_table('recommendations') as batch:
        batch.drop_column('apply_events')
