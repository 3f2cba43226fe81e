"""Alembic migrations, wired in code: no alembic.ini at the repository root."""
