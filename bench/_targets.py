"""Where a benchmark case keeps its data: a fresh SQLite file or a fresh PostgreSQL schema.

Every case of every round gets its own empty database so that no case pays
for (or profits from) the rows another one left behind. A target is a plain
dict so that it can be handed to a child process as JSON.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

Target = dict[str, Any]

_SAFE_NAME = re.compile(r"[^a-z0-9_]")


class TargetFactory:
    """Hands out fresh targets for one benchmark run and removes them afterwards."""

    def __init__(self, database_url: str | None) -> None:
        self.kind = "postgres" if database_url and database_url.startswith("postgres") else "sqlite"
        self._made: list[Target] = []
        if self.kind == "postgres":
            assert database_url is not None
            self._base_url, self._schema_prefix = _split_schema(database_url)
            self._tmpdir = ""
        else:
            self._base_url, self._schema_prefix = "", ""
            self._tmpdir = tempfile.mkdtemp(prefix="polos-bench-", dir=_sqlite_dir(database_url))

    @property
    def description(self) -> str:
        if self.kind == "postgres":
            return (
                f"PostgreSQL {_without_password(self._base_url)} (schemas {self._schema_prefix}_*)"
            )
        return f"SQLite files in {self._tmpdir} (WAL, synchronous=NORMAL)"

    def fresh(self, name: str) -> Target:
        """An empty database for the case ``name`` (made unique by the caller)."""
        safe = _SAFE_NAME.sub("_", name.lower())
        if self.kind == "postgres":
            schema = f"{self._schema_prefix}_{safe}"
            asyncio.run(_pg_admin(self._base_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            asyncio.run(_pg_admin(self._base_url, f'CREATE SCHEMA "{schema}"'))
            target: Target = {"kind": "postgres", "url": self._base_url, "schema": schema}
        else:
            target = {"kind": "sqlite", "path": os.path.join(self._tmpdir, f"{safe}.db")}
        self._made.append(target)
        return target

    def discard(self, target: Target) -> None:
        if target["kind"] == "postgres":
            schema = target["schema"]
            asyncio.run(_pg_admin(self._base_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                path = target["path"] + suffix
                if os.path.exists(path):
                    os.remove(path)

    def close(self) -> None:
        for target in self._made:
            try:
                self.discard(target)
            except Exception as exc:  # best effort: never hide the results behind a cleanup error
                print(f"warning: could not remove {target}: {exc}")
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)


def polos_url(target: Target) -> str:
    """The database URL Polos takes for ``target``."""
    if target["kind"] == "postgres":
        return _with_query(str(target["url"]), schema=str(target["schema"]))
    return "sqlite:///" + os.path.abspath(str(target["path"]))


def _sqlite_dir(database_url: str | None) -> str | None:
    """The folder for the SQLite files: next to the URL's file, else the system temp dir."""
    if not database_url:
        return None
    if not database_url.startswith("sqlite:"):
        raise SystemExit(
            f"unsupported --database-url {database_url!r}: use sqlite:///... or postgresql://..."
        )
    path = database_url.split("://", 1)[1].split("?", 1)[0]
    path = path[1:] if path.startswith("/") else path
    folder = os.path.dirname(os.path.abspath(path)) if path else None
    if folder:
        os.makedirs(folder, exist_ok=True)
    return folder


def _split_schema(url: str) -> tuple[str, str]:
    """``postgresql://...?schema=x`` -> (URL without the schema option, ``x``)."""
    parsed = urlparse(url)
    query = dict(parse_qsl(parsed.query))
    prefix = _SAFE_NAME.sub("_", query.pop("schema", "polos_bench").lower())
    return urlunparse(parsed._replace(query=urlencode(query))), prefix


def _with_query(url: str, **options: str) -> str:
    parsed = urlparse(url)
    query = dict(parse_qsl(parsed.query))
    query.update(options)
    return urlunparse(parsed._replace(query=urlencode(query)))


def _without_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
    return urlunparse(parsed._replace(netloc=netloc))


async def _pg_admin(url: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
