"""accounts, API keys, the audit log; owners and areas of scenario runs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', _SEQ, autoincrement=True, nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False, comment='stored lower-case'),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('district', sa.String(length=64), nullable=True),
    sa.Column('block', sa.String(length=64), nullable=True),
    sa.Column('school_id', sa.String(length=11), nullable=True),
    sa.Column('employee_id', sa.String(length=64), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('mfa_secret', sa.String(length=64), nullable=True, comment='TOTP secret while enrolling or enrolled'),
    sa.Column('mfa_enabled', sa.Boolean(), nullable=False),
    sa.Column('mfa_last_step', sa.BigInteger(), nullable=True, comment='the last TOTP time step used: a code is never accepted twice'),
    sa.Column('mfa_recovery', sa.Text(), nullable=True, comment='JSON: SHA-256 hashes of the unused recovery codes'),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=16), nullable=False, comment='the key\'s public id (mtk_<id>_...)'),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.Text(), nullable=False, comment='JSON list, e.g. ["events:write"]'),
    sa.Column('district', sa.String(length=64), nullable=True),
    sa.Column('block', sa.String(length=64), nullable=True),
    sa.Column('school_id', sa.String(length=11), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('audit_log',
    sa.Column('id', _SEQ, autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False, comment='email, user:<id>, key:<id> or the login name tried'),
    sa.Column('actor_role', sa.String(length=32), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=True),
    sa.Column('district', sa.String(length=64), nullable=True, comment='where the target is, for scoped reads'),
    sa.Column('outcome', sa.String(length=16), nullable=False, comment='ok, denied or failed'),
    sa.Column('before', sa.Text(), nullable=True, comment='JSON'),
    sa.Column('after', sa.Text(), nullable=True, comment='JSON'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'])
    op.create_index('ix_audit_log_actor', 'audit_log', ['actor'])
    with op.batch_alter_table('scenario_runs') as batch:
        batch.add_column(sa.Column('owner', sa.String(length=64), nullable=True, comment='who started it: user:<id> or key:<id>'))
        batch.add_column(sa.Column('area_district', sa.String(length=64), nullable=True, comment='the smallest area holding all the scenario covers: its district'))
        batch.add_column(sa.Column('area_block', sa.String(length=64), nullable=True, comment='... and its block, when all is in one block'))


def downgrade() -> None:
    with op.batch_alter_table('scenario_runs') as batch:
        batch.drop_column('area_block')
        batch.drop_column('area_district')
        batch.drop_column('owner')
    op.drop_index('ix_audit_log_actor', table_name='audit_log')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('api_keys')
    op.drop_table('users')
