"""Notification channels for runs that wait for a person."""

from .channel import Channel, ChannelContext, ChannelOutputMode, SuspendNotification
from .slack import SlackApiError, SlackChannel, SlackChannelConfig

__all__ = [
    "Channel",
    "ChannelContext",
    "ChannelOutputMode",
    "SlackApiError",
    "SlackChannel",
    "SlackChannelConfig",
    "SuspendNotification",
]
