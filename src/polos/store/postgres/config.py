"""Reading a ``postgresql://`` URL into what the backend needs.

Polos adds a few options of its own to the query string (``schema``,
``application_name``, ``pool_size``, ``retry_seconds``); they are removed
before the DSN reaches asyncpg, because asyncpg would otherwise send any
unknown option to the server as a run-time setting and fail at connect time
with a confusing message. Connection options asyncpg understands itself
(``sslmode`` and friends) pass through unchanged.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from ...errors import ConfigurationError

#: Query options asyncpg reads itself (see asyncpg.connect_utils).
PASS_THROUGH_OPTIONS = frozenset(
    {
        "host",
        "port",
        "dbname",
        "database",
        "user",
        "password",
        "passfile",
        "service",
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslnegotiation",
        "sslcrl",
        "sslpassword",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
    }
)
POLOS_OPTIONS = frozenset({"schema", "application_name", "pool_size", "retry_seconds"})

DEFAULT_SCHEMA = "public"
DEFAULT_APPLICATION_NAME = "polos"
DEFAULT_POOL_SIZE = 10
DEFAULT_RETRY_SECONDS = 60.0

# A plain identifier: no quoting surprises in psql, channel names or logs.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_MAX_IDENTIFIER_BYTES = 63


@dataclass(frozen=True, slots=True)
class PostgresConfig:
    dsn: str  # what asyncpg gets: the URL without Polos' own options
    schema: str
    application_name: str
    pool_size: int
    retry_seconds: float
    safe_dsn: str  # the DSN without its password, for logs and the hub key

    @property
    def quoted_schema(self) -> str:
        return f'"{self.schema}"'

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel of this schema (identifiers stop at 63 bytes)."""
        name = f"polos_{self.schema}"
        if len(name.encode()) <= _MAX_IDENTIFIER_BYTES:
            return name
        return f"polos_{hashlib.sha256(self.schema.encode()).hexdigest()[:24]}"

    @property
    def migration_lock_key(self) -> int:
        return self.lock_key("migrate")

    def lock_key(self, purpose: str) -> int:
        """A stable 64-bit advisory-lock key per schema (Python's hash() is salted)."""
        digest = hashlib.sha256(f"polos-{purpose}:{self.schema}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @property
    def hub_key(self) -> str:
        return f"postgres:{self.safe_dsn}:{self.schema}"

    @property
    def description(self) -> str:
        return f"PostgreSQL database {self.safe_dsn} (schema {self.schema})"


def parse_url(url: str) -> PostgresConfig:
    """Split a ``postgresql://`` URL into the asyncpg DSN and Polos' options."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigurationError(f"not a PostgreSQL URL: {_without_password(url)!r}")
    _check_ports(url, parts.netloc)
    options: dict[str, str] = {}
    passed: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in POLOS_OPTIONS:
            options[key] = value
        elif key in PASS_THROUGH_OPTIONS:
            passed.append((key, value))
        else:
            raise ConfigurationError(
                f"unknown PostgreSQL URL option {key!r}; Polos knows "
                f"{', '.join(sorted(POLOS_OPTIONS))} and passes the connection options "
                f"{', '.join(sorted(PASS_THROUGH_OPTIONS))} to asyncpg"
            )
    dsn = _join(parts, urlencode(passed))
    return PostgresConfig(
        dsn=dsn,
        schema=_schema(options.get("schema", DEFAULT_SCHEMA)),
        application_name=options.get("application_name") or DEFAULT_APPLICATION_NAME,
        pool_size=_positive_int("pool_size", options.get("pool_size"), DEFAULT_POOL_SIZE),
        retry_seconds=_non_negative_float(
            "retry_seconds", options.get("retry_seconds"), DEFAULT_RETRY_SECONDS
        ),
        safe_dsn=_without_password(_join(parts, "")),
    )


def _check_ports(url: str, netloc: str) -> None:
    """Refuse a port that is not a number now, naming the URL (asyncpg would only
    fail at connect time, with ``invalid literal for int()``)."""
    hosts = netloc.rpartition("@")[2]
    for host in hosts.split(","):  # asyncpg takes several hosts: h1:5432,h2:5433
        if host.startswith("["):  # IPv6: [::1]:5432
            port = host.partition("]")[2].removeprefix(":")
        else:
            port = host.partition(":")[2]
        if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigurationError(
                f"PostgreSQL URL {_without_password(url)!r} has port {port!r}, which is not "
                "a port number (1 to 65535); use postgresql://user@host:5432/dbname"
            )


def _schema(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ConfigurationError(
            f"schema={name!r} is not a plain identifier; use letters, digits and "
            "underscores (at most 63, not starting with a digit)"
        )
    return name


def _positive_int(option: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigurationError(f"{option}={raw!r} must be a positive integer")
    return value


def _non_negative_float(option: str, raw: str | None, default: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also rejects nan
        raise ConfigurationError(f"{option}={raw!r} must be a number of seconds (0 or more)")
    return value


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0]
        return _join(parts._replace(netloc=f"{userinfo}@{hosts}"), parts.query)
    return url


def _join(parts: SplitResult, query: str) -> str:
    """The URL of ``parts`` with ``query``, always with ``//`` after the scheme.

    ``urlunsplit`` drops the ``//`` of a URL with no host for schemes it does
    not know, and ``postgresql:///db?host=/run/postgresql`` (a Unix socket)
    would reach asyncpg as ``postgresql:/db``, which it cannot read.
    """
    url = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if query:
        url += f"?{query}"
    if parts.fragment:
        url += f"#{parts.fragment}"
    return url
