"""Whether spans are exported, and the tracer provider that exports them.

Tracing is on when the process asks for it the standard way:

- an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``): spans go there over OTLP/HTTP
  (protobuf), with the exporter's own ``OTEL_EXPORTER_OTLP_*`` settings
  (headers, timeout, compression) and ``OTEL_SERVICE_NAME`` (``polos``);
- or the program installed an OpenTelemetry SDK tracer provider itself
  (``trace.set_tracer_provider``): Polos's spans join it and its exporters.

``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` turn it off.
Otherwise it is off and costs nothing: workers give runs no tracer at all.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextvars import ContextVar

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_lock = threading.Lock()
_providers: dict[tuple[str, ...], TracerProvider] = {}

#: The trace id a root run's first span must take (its root execution id), read
#: by :class:`RunTraceIds` while that span is being started.
root_trace_id: ContextVar[int | None] = ContextVar("polos_root_trace_id", default=None)


class RunTraceIds(RandomIdGenerator):
    """Random ids, except a root run's trace id: its execution id's 128 bits (as
    Polos does), so a run's trace can be found from its id."""

    def generate_trace_id(self) -> int:
        wanted = root_trace_id.get()
        return wanted if wanted is not None else super().generate_trace_id()


def _disabled() -> bool:
    return (
        os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        or os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none"
    )


def _endpoint() -> str | None:
    for name in _ENDPOINTS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def tracing_enabled() -> bool:
    """Whether runs started by workers of this process are traced (see the module doc)."""
    return provider_from_env() is not None


def provider_from_env() -> TracerProvider | None:
    """The provider spans go through, or None when tracing is off.

    One per distinct OTLP configuration per process, so every worker of the
    process shares one exporter and one batch thread.
    """
    if _disabled():
        return None
    endpoint = _endpoint()
    if endpoint is None:
        installed = trace.get_tracer_provider()
        return installed if isinstance(installed, TracerProvider) else None
    key = (endpoint, *(os.environ.get(n, "") for n in _ENDPOINTS), _service_name())
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            # Imported here: the exporter pulls in protobuf and requests, which a
            # process that never exports should not pay for at import time.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider = TracerProvider(
                resource=Resource.create({SERVICE_NAME: _service_name()}),
                id_generator=RunTraceIds(),
            )
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            _providers[key] = provider
            _quiet_exporter_logs()
            _warn_if_grpc()
    return provider


def _warn_if_grpc() -> None:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or ""
    ).strip()
    if protocol == "grpc":
        logging.getLogger("polos.observability").warning(
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: Polos exports spans over "
            "OTLP/HTTP (protobuf); point the endpoint at the collector's HTTP port (4318)"
        )


def _service_name() -> str:
    return os.environ.get("OTEL_SERVICE_NAME", "").strip() or "polos"


#: The OTLP exporter's loggers (its HTTP transport logs each retry of each batch).
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
)


class OncePerInterval(logging.Filter):
    """Lets a message (by its template) through once per ``interval`` seconds.

    While a collector is down the exporter warns on every retry of every
    batch; one line a minute says the same, as the store's outage log does.
    """

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        key = str(record.msg)
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return False
            self._last[key] = now
        return True


def _quiet_exporter_logs() -> None:
    for name in _EXPORTER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, OncePerInterval) for f in logger.filters):
            logger.addFilter(OncePerInterval())
