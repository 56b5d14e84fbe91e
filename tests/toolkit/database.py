"""Writing to a test database behind Polos's back (rows from before a check, or by hand)."""

from __future__ import annotations

import sqlite3

import asyncpg


async def execute_sql(database_url: str, statement: str) -> None:
    """Run one statement on the SQLite file or PostgreSQL schema ``database_url`` names."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.split(":///", 1)[1])
        with conn:
            conn.execute(statement)
        conn.close()
        return
    base, _, schema = database_url.partition("?schema=")
    pg = await asyncpg.connect(base, server_settings={"search_path": schema})
    try:
        await pg.execute(statement)
    finally:
        await pg.close()
