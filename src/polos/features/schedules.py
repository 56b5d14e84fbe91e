"""``polos.features.schedules``: where Polos code imports the schedules API from."""

from ..schedules import ScheduleInfo, create, delete, get, list
from ..types import SchedulePayload

__all__ = ["ScheduleInfo", "SchedulePayload", "create", "delete", "get", "list"]
