"""accounts asked for by their holders: the request's state and its decision

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('approval', sa.String(length=16), nullable=True,
                                   comment='pending, approved or rejected for a requested account; none when an admin made it'))
        batch.add_column(sa.Column('decided_by', sa.String(length=254), nullable=True))
        batch.add_column(sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('decision_reason', sa.String(length=500), nullable=True))
    op.create_index('ix_users_approval', 'users', ['approval'])


def downgrade() -> None:
    op.drop_index('ix_users_approval', table_name='users')
    with op.batch_alter_table('users') as batch:
        for column in ('decision_reason', 'decided_at', 'decided_by', 'approval'):
            batch.drop_column(column)
