"""PostgreSQL backend of the store (asyncpg); see docs/postgres.md."""

from .backend import PostgresStore

__all__ = ["PostgresStore"]
