"""snapshot deltas: the rows of a district's schools changed since the snapshot or delta before,
so that a shard of more schools than a snapshot's every_events (India scale, 1.08 M) snapshots
every every_events events without copying every school (a whole copy costs 1.4-1.9 s of CPU), and
a recovery replays at most about that many events

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'snapshot_deltas',
        sa.Column('district', sa.SmallInteger(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('base_seq', sa.BigInteger(), nullable=False, comment='the seq of the snapshot the chain starts from'),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False, comment='the changed rows (`twin.snapshot` format)'),
        sa.PrimaryKeyConstraint('district', 'seq'),
    )


def downgrade() -> None:
    op.drop_table('snapshot_deltas')
