"""the names' trigram index, for name search at India scale: an FTS5 table of the names (trigram
tokenizer, kept in step by triggers) on SQLite, a pg_trgm GIN index on lower(name) on PostgreSQL.
Where neither can be made (no FTS5 trigram tokenizer, no pg_trgm), the migration says why and the
search reads the rows as before (`db.school_name_index`)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""
from alembic import op

from db import school_name_index


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    why_not = school_name_index.create(op.get_bind())
    if why_not is not None:
        print(f"school name search without an index: {why_not}")


def downgrade() -> None:
    school_name_index.drop(op.get_bind())
