"""alert versions: one counter bumped by every write to the alerts, so that cached reports which
depend on them (an area's performance, its PDF) name the version they were built from

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        'alert_versions',
        sa.Column('id', sa.Integer(), primary_key=True, comment='always 1: one counter'),
        sa.Column('version', sa.BigInteger(), nullable=False, comment='bumped by every write to the alerts'),
    )
    op.bulk_insert(table, [{'id': 1, 'version': 0}])


def downgrade() -> None:
    op.drop_table('alert_versions')
