"""indexes for the schools at India scale: active schools by name (the list's default order), in
the whole register and within a district, so that a page is a walk along an index rather than a
sort of every school (5 s for 1.08 M schools on SQLite); and the directory's order (registration,
then code), which every process reads in full when it starts (a sort of 1.08 M rows each time)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_schools_active_name_id', 'schools', ['is_active', 'name', 'id'])
    op.create_index('ix_schools_district_active_name_id', 'schools', ['district', 'is_active', 'name', 'id'])
    op.create_index('ix_schools_created_id', 'schools', ['created_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_schools_created_id', table_name='schools')
    op.drop_index('ix_schools_district_active_name_id', table_name='schools')
    op.drop_index('ix_schools_active_name_id', table_name='schools')
