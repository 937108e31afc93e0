"""optimisation recommendations and their comments

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('recommendations',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False, comment='stock_transfer'),
    sa.Column('status', sa.String(length=16), nullable=False, comment='pending, approved, rejected, applied or superseded'),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False, comment='the optimisation run that proposed it'),
    sa.Column('district', sa.String(length=64), nullable=False),
    sa.Column('block', sa.String(length=64), nullable=False),
    sa.Column('school_id', sa.String(length=11), nullable=False, comment='the receiving school'),
    sa.Column('from_school_id', sa.String(length=11), nullable=True, comment="the giving school (none: the block's depot)"),
    sa.Column('from_depot', sa.String(length=64), nullable=True),
    sa.Column('quantity_kg', sa.Float(), nullable=False, comment="weight moved, eggs by their weight: the approval limit's measure"),
    sa.Column('cost_inr', sa.Float(), nullable=False),
    sa.Column('children_affected', sa.Integer(), nullable=False),
    sa.Column('twin_seq', sa.BigInteger(), nullable=False, comment="the twin's log position it was computed on"),
    sa.Column('body', sa.Text(), nullable=False, comment='JSON: action, quantities, risk before and after, explanation'),
    sa.Column('impact', sa.Text(), nullable=True, comment='JSON: the simulated effect, once verified'),
    sa.Column('events', sa.Text(), nullable=True, comment='JSON: the ids of the events it became'),
    sa.Column('created_by', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=254), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True, comment='why it was rejected or superseded'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_recommendations_district_block_created', 'recommendations', ['district', 'block', 'created_at'])
    op.create_index('ix_recommendations_status', 'recommendations', ['status'])
    op.create_table('recommendation_comments',
    sa.Column('id', _SEQ, autoincrement=True, nullable=False),
    sa.Column('recommendation_id', sa.String(length=32), nullable=False),
    sa.Column('parent_id', sa.BigInteger(), nullable=True, comment='the comment it answers (none: a new thread)'),
    sa.Column('author', sa.String(length=254), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_recommendation_comments_recommendation_id'), 'recommendation_comments',
                    ['recommendation_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_recommendation_comments_recommendation_id'), table_name='recommendation_comments')
    op.drop_table('recommendation_comments')
    op.drop_index('ix_recommendations_status', table_name='recommendations')
    op.drop_index('ix_recommendations_district_block_created', table_name='recommendations')
    op.drop_table('recommendations')
