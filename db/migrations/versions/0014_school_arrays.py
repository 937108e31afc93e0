"""the directory of every school kept as arrays (`db.school_arrays`): each process of the twin reads
them and the rows changed since, instead of every row of `schools` (16-27 s a process for 1.08 M
schools at India scale, and the state actor's read of every location 58-117 s); and an index on
`updated_at` to find those rows

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'school_arrays',
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('part', sa.String(length=16), nullable=False, comment='ids, directory or locations'),
        sa.Column('schools', sa.Integer(), nullable=False),
        sa.Column('watermark', sa.DateTime(timezone=True), nullable=False,
                  comment='every change to schools after these arrays were read is stamped at or after it'),
        sa.Column('last_created_at', sa.DateTime(timezone=True), nullable=True,
                  comment='the key (created_at, id) of the last school'),
        sa.Column('last_id', sa.String(length=11), nullable=True),
        sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False, comment="the part's arrays (`twin.snapshot` format)"),
        sa.PrimaryKeyConstraint('version', 'part'),
    )
    op.create_index('ix_schools_updated', 'schools', ['updated_at'])


def downgrade() -> None:
    op.drop_index('ix_schools_updated', table_name='schools')
    op.drop_table('school_arrays')
