"""report schedules: why the twin paused one (its owner may no longer read the schedule's area)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('report_schedules') as batch:
        batch.add_column(sa.Column('paused_reason', sa.String(length=500), nullable=True,
                                   comment='why the twin paused it (its owner may no longer read the area)'))


def downgrade() -> None:
    with op.batch_alter_table('report_schedules') as batch:
        batch.drop_column('paused_reason')
