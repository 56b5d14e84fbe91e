"""The worker's log lines: one short event name plus fields, as text or JSON.

Code logs an event with its facts in ``extra={"fields": {...}}``::

    log.info("run completed", extra=fields(execution_id=..., duration_ms=...))

and :func:`configure_logging` (``polos worker --log-format``, ``Worker(log_format=...)``)
prints it either as a text line (``... INFO polos.worker run completed
execution_id=... duration_ms=12.3``) or as one JSON object per line
(``{"time": ..., "level": "info", "logger": ..., "event": "run completed",
"execution_id": ..., ...}``), which log shippers read without parsing.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("text", "json")
#: Handlers installed by :func:`configure_logging`, replaced when it is called again.
_HANDLER_FLAG = "_polos_handler"


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a structured line; None values are left out."""
    return {"fields": {k: v for k, v in values.items() if v is not None}}


def check_level(level: str) -> int:
    name = level.strip().lower()
    if name not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    return int(logging.getLevelName(name.upper()))


def check_format(fmt: str) -> str:
    name = fmt.strip().lower()
    if name not in FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
    return name


def _fields_of(record: logging.LogRecord) -> dict[str, Any]:
    found = getattr(record, "fields", None)
    return found if isinstance(found, dict) else {}


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger> <message> key=value ...`` (values with spaces quoted)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_time(record), f"{record.levelname:<7}", record.name, record.getMessage()]
        for key, value in _fields_of(record).items():
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            if not text or any(c in text for c in ' "='):
                text = json.dumps(text)
            parts.append(f"{key}={text}")
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event (the message), then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in _fields_of(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(
    level: str = "info", fmt: str = "text", stream: IO[str] | None = None
) -> None:
    """Send log records at ``level`` and above to ``stream`` (stderr) in ``fmt``.

    Polos's and the libraries' records both, through one root handler; calling
    it again replaces the handler it installed (not the program's own).
    """
    number, name = check_level(level), check_format(fmt)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if name == "json" else TextFormatter())
    setattr(handler, _HANDLER_FLAG, True)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _HANDLER_FLAG, False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(number)
    # Chatty libraries stay at warning unless debugging.
    for noisy in ("httpx", "httpcore", "asyncio", "urllib3"):
        logging.getLogger(noisy).setLevel(
            logging.DEBUG if number <= logging.DEBUG else logging.WARNING
        )
