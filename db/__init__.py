"""Persistence: SQLAlchemy 2 async tables, engines, repositories and Alembic migrations."""
