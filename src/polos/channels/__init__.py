"""Notification channels for runs that wait for a person."""

from .channel import Channel, ChannelContext, ChannelOutputMode, SuspendNotification

__all__ = ["Channel", "ChannelContext", "ChannelOutputMode", "SuspendNotification"]
