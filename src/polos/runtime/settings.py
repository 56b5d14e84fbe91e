"""Where a client or worker connects, from its arguments and the ``POLOS_*`` variables.

Polos's own SDK takes ``project_id``, ``api_url``, ``api_key`` and
``deployment_id`` (or ``POLOS_PROJECT_ID``, ``POLOS_API_URL``,
``POLOS_API_KEY``, ``POLOS_DEPLOYMENT_ID``). Here each has a meaning in an
embedded design:

- ``project_id`` keeps projects that share one database apart: each project
  gets its own SQLite file (``polos.db`` -> ``polos.<project>.db``) or its own
  PostgreSQL schema, so one project's runs, events and schedules are invisible
  to another's.
- ``deployment_id`` is recorded on every run a client starts and every worker
  that starts (``"default"`` when unset, as in Polos).
- ``api_url`` / ``api_key`` address a ``polos server``. A client given an
  ``api_url`` (or ``POLOS_API_URL``) and no database URL (neither
  ``database_url=`` nor ``POLOS_DATABASE_URL``) is a remote client: every
  call goes over the server's HTTP API (:mod:`polos.runtime.remote`), with
  ``api_key`` sent as ``Authorization: Bearer``. Polos's own default,
  ``http://localhost:8080`` spelled exactly so, is the exception: code that
  spells it out asks for the local development setup, which here is the
  embedded database; reach a local server as ``http://127.0.0.1:8080``.
  When a database URL is given too, the database wins (a worker needs it).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConfigurationError
from ..store import resolve_database_url

DEFAULT_DEPLOYMENT_ID = "default"
#: Polos's own default (what it uses when nothing is set): code that spells it out
#: means "the local development setup", which here is the embedded database.
DEFAULT_API_URL = "http://localhost:8080"
LOCAL_DEFAULT_API_URLS = frozenset({DEFAULT_API_URL})
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    project_id: str | None
    deployment_id: str
    api_key: str | None
    api_url: str


def resolve_settings(
    *,
    database_url: str | None = None,
    project_id: str | None = None,
    api_url: str | None = None,
    api_key: str | None = None,
    deployment_id: str | None = None,
) -> Settings:
    """Arguments first, then the environment, then the embedded defaults."""
    api_url = api_url or os.environ.get("POLOS_API_URL") or None
    project_id = project_id or os.environ.get("POLOS_PROJECT_ID") or None
    url = resolve_database_url(database_url)
    if project_id is not None:
        url = project_database_url(url, project_id)
    return Settings(
        database_url=url,
        project_id=project_id,
        deployment_id=(
            deployment_id or os.environ.get("POLOS_DEPLOYMENT_ID") or DEFAULT_DEPLOYMENT_ID
        ),
        api_key=api_key or os.environ.get("POLOS_API_KEY") or None,
        api_url=api_url or DEFAULT_API_URL,
    )


def remote_api_url(
    api_url: str | None, database_url: str | None, *, database_env: bool = True
) -> str | None:
    """The server a client talks to over HTTP, or None for the database directly:
    an ``api_url`` (argument, else ``POLOS_API_URL``) other than Polos's local
    default, when no database URL is given (argument, else ``POLOS_DATABASE_URL``)."""
    url = api_url or os.environ.get("POLOS_API_URL") or None
    if url is None or url.rstrip("/") in LOCAL_DEFAULT_API_URLS:
        return None
    if database_url or (database_env and os.environ.get("POLOS_DATABASE_URL")):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"api_url={url!r} is not a server address: use http://host:port or https://host "
            "(or leave it unset and use database_url= to talk to the database directly)"
        )
    return url.rstrip("/")


def project_database_url(url: str, project_id: str) -> str:
    """The database URL of one project: a sibling SQLite file or a PostgreSQL schema."""
    if not _PROJECT.match(project_id):
        raise ConfigurationError(
            f"project_id {project_id!r} is not usable: use 1 to 40 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    name = project_id.lower().replace("-", "_")
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///path?options: keep the three slashes urlunsplit would drop.
        path, question, options = url[len("sqlite://") :].partition("?")
        stem, dot, ext = path.rpartition(".")
        path = f"{stem}.{name}.{ext}" if dot and "/" not in ext else f"{path}.{name}"
        return f"sqlite://{path}{question}{options}"
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    base = query.get("schema")
    query["schema"] = f"{base}_{name}" if base and base != "public" else f"project_{name}"
    return urlunsplit(parts._replace(query=urlencode(query)))


def send_logs_to_file(log_file: str) -> None:
    """Send every log record of the process (ours and the libraries') to ``log_file``.

    Polos's ``log_file=`` does exactly this, so that example programs print only
    their own output; a program that configured logging itself loses its root
    handlers, as it would with Polos.
    """
    handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
