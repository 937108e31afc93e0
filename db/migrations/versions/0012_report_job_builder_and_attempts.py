"""report jobs: the replica building one and the builds begun, so that another replica takes over a
job whose builder died, a bounded number of times

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('report_jobs') as batch:
        batch.add_column(sa.Column('builder', sa.String(length=128), nullable=True,
                                   comment='the replica holding the job while it is active; another takes it over '
                                           'once its heartbeat lapses'))
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0',
                                   comment='builds begun: bounded, so a report that kills its builder is not '
                                           'retried forever'))
    op.create_index('ix_report_jobs_status', 'report_jobs', ['status'])


def downgrade() -> None:
    op.drop_index('ix_report_jobs_status', table_name='report_jobs')
    with op.batch_alter_table('report_jobs') as batch:
        batch.drop_column('attempts')
        batch.drop_column('builder')
