"""impact jobs: the replica running one and the simulations begun, so that another replica takes
over a job whose replica died, a bounded number of times; and jobs for a whole run's plan

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('impact_jobs') as batch:
        batch.alter_column('recommendation_id', existing_type=sa.String(length=32), nullable=True,
                           comment='the recommendation simulated (none: a run\'s)')
        batch.add_column(sa.Column('run_id', sa.String(length=32), nullable=True,
                                   comment="the run whose plan is simulated (none: one recommendation's)"))
        batch.add_column(sa.Column('builder', sa.String(length=128), nullable=True,
                                   comment='the replica holding the job while it is active; another takes it over '
                                           'once its heartbeat lapses'))
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0',
                                   comment='simulations begun: bounded, so a job that kills its replica is not '
                                           'retried forever'))
    op.create_index('ix_impact_jobs_status', 'impact_jobs', ['status'])


def downgrade() -> None:
    op.drop_index('ix_impact_jobs_status', table_name='impact_jobs')
    op.execute("DELETE FROM impact_jobs WHERE recommendation_id IS NULL")
    with op.batch_alter_table('impact_jobs') as batch:
        batch.drop_column('attempts')
        batch.drop_column('builder')
        batch.drop_column('run_id')
        batch.alter_column('recommendation_id', existing_type=sa.String(length=32), nullable=False)
