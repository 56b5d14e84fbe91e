"""The web dashboard: server-rendered pages (Jinja2) made live with htmx.

Everything it shows is read through the store the API routes use; its pages
are plain routes of the server's app, left out of the OpenAPI document (they
are for people, not programs). See docs/observability.md.
"""

from __future__ import annotations

from .routes import dashboard_routes

__all__ = ["dashboard_routes"]
