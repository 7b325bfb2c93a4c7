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

from .app import security_headers
from .config import Settings
from .httplimits import header_timeout_protocol
from .hub import Hub
from .wsprotocol import signaling_protocol


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
        # /ws on a protocol of our own (wsprotocol.py): no ASGI task, queue or
        # message dict per frame; every other upgrade is refused there.
        ws=signaling_protocol(app, security_headers(settings)),
        loop="auto",
        http=header_timeout_protocol(settings.header_timeout),
    )
    GoingAwayServer(config, app.state.hub).run()
