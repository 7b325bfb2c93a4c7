"""Running the app: uvicorn, set up the way signaling needs it, with a graceful stop.

A graceful stop (SIGTERM: a deploy, a restart, a scale-down) first closes every
signaling socket with 1001 (going away), before uvicorn stops accepting and
closes what is left: the browsers reconnect at once, to another process or to
the restarted one, take their seats back with their resume tickets, and the
calls go on. Nothing is recorded for the sockets that go this way.
"""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from .config import Settings
from .httplimits import header_timeout_protocol
from .hub import Hub


class GoingAwayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, hub: Hub) -> None:
        super().__init__(config)
        self.hub = hub

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Stop accepting first, or the browsers would come straight back here.
        for server in self.servers:
            server.close()
        await self.hub.going_away()
        await super().shutdown(sockets)


def serve(app: FastAPI, settings: Settings, host: str, port: int) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        ws="websockets-sansio",
        ws_per_message_deflate=False,  # CPU, memory, and no compression next to secrets
        ws_max_size=1 << 20,  # our own 64 KiB bound answers with a clear error first
        loop="auto",
        http=header_timeout_protocol(settings.header_timeout),
    )
    GoingAwayServer(config, app.state.hub).run()
