"""Persistence: SQLAlchemy models, the database handle and Alembic migrations."""

from bot.store.db import Database

__all__ = ["Database"]
