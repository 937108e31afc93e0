"""indexes for the lists read under load: a block's schools, a district's schools by risk level,
a district's alerts newest first, and unread open alerts by severity

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_schools_district_block_id', 'schools', ['district', 'block', 'id'])
    op.create_index('ix_schools_district_risk_id', 'schools', ['district', 'risk_level', 'id'])
    op.create_index('ix_alerts_district_updated', 'alerts', ['district', 'updated_at', 'id'])
    op.create_index('ix_alerts_unread_open', 'alerts', ['is_resolved', 'is_read', 'district', 'severity'])


def downgrade() -> None:
    op.drop_index('ix_alerts_unread_open', table_name='alerts')
    op.drop_index('ix_alerts_district_updated', table_name='alerts')
    op.drop_index('ix_schools_district_risk_id', table_name='schools')
    op.drop_index('ix_schools_district_block_id', table_name='schools')
