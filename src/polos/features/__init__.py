"""``polos.features``: the module paths Polos code imports events and schedules from."""

from . import events, schedules

__all__ = ["events", "schedules"]
