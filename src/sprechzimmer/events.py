"""The kinds of connection event kept for billing: the only facts about a call that are stored.

Its own module because three layers speak of it (the pure room decides when one
happens, the store keeps it, billing reads it) and none should import another
for it.
"""

from __future__ import annotations

import enum


class EventKind(enum.StrEnum):
    JOINED = "joined"
    ADMITTED = "admitted"
    MEDIA_CONNECTED = "media_connected"
    MEDIA_DISCONNECTED = "media_disconnected"
    LEFT = "left"
