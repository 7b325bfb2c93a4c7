"""The ASGI application: API, signaling socket, static browser client, security headers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from . import __version__, accounts, api, legal
from .backplane import Embedded, RedisBackplane
from .config import Settings
from .errors import InternalError, InvalidInput, SprechzimmerError, error_body
from .httplimits import BodyLimit
from .hub import Hub
from .metrics import metrics_endpoint
from .ratelimit import Backoff, RateLimiter
from .retention import purge_periodically
from .sfu import derive_secrets
from .sfuapi import open_session
from .sfucall import OpenSession
from .signaling import signaling_endpoint
from .store import Store
from .tickets import ticket_key
from .turn import EmbeddedTurn

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
TOTAL_LOGIN_FACTOR = 20

# No inline scripts or styles, nothing from another origin (issue 6 deepens this).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def security_headers(settings: Settings) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CSP,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(self), microphone=(self), geolocation=(), payment=()",
    }
    if settings.secure_cookies:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return headers


def sfu_sessions(settings: Settings) -> OpenSession | None:
    """How this server opens a Janus session at its SFU, or None without an SFU."""
    if not settings.sfu_secret:
        return None
    url, secrets = settings.sfu_url, derive_secrets(settings.sfu_secret)
    return lambda: open_session(url, secrets)


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    store = store or Store.from_url(settings.effective_database_url)
    turn = None
    if settings.embedded_turn:
        if EmbeddedTurn.available():
            turn = EmbeddedTurn(
                settings.data_dir,
                settings.embedded_turn_host,
                settings.embedded_turn_port,
                settings.turn_realm,
            )
        else:
            log.warning("embedded TURN asked for, but coturn's turnserver is not installed")
    ice = settings.ice_policy((turn.spec,), turn.secret) if turn else settings.ice_policy()
    secret_key = settings.effective_secret_key()
    hub = Hub(
        store,
        room=settings.room_config(ice),
        ice=ice,
        keep_quality=settings.quality_retention_days > 0,
        seat_joins=settings.seat_joins,
        ticket_key=ticket_key(secret_key),
        backplane=RedisBackplane(settings.redis_url) if settings.redis_url else Embedded(),
        outbox=settings.outbox_limits(),
        sfu=sfu_sessions(settings),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(store.migrate)
        if turn is not None:
            await asyncio.to_thread(turn.start)
        await hub.start()
        ticker = asyncio.create_task(hub.run_timers())
        watcher = asyncio.create_task(hub.watch())
        enforcer = asyncio.create_task(hub.enforce_revocations())
        purger = asyncio.create_task(purge_periodically(store, settings))
        try:
            yield
        finally:
            for task in (ticker, watcher, enforcer, purger):
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            await hub.flush_samples()
            await hub.stop()
            app.state.password_checks.close()
            if turn is not None:
                await asyncio.to_thread(turn.stop)

    app = FastAPI(
        title="sprechzimmer",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load code from CDNs: never.
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.hub = hub
    app.state.secret_key = secret_key
    app.state.password_checks = accounts.PasswordChecks()
    app.state.login_backoff = Backoff(
        settings.login_attempts, settings.login_window, settings.login_max_delay
    )
    # Per browser that logged in before (its device cookie): others' failures never
    # slow it down, its own do.
    app.state.device_backoff = Backoff(
        settings.login_attempts, settings.login_window, settings.login_max_delay
    )
    # Failed logins on existing codes together: slows down spraying one password
    # over many codes; made-up codes do not count (they cannot lock anyone out),
    # and browsers that logged in before are never held by it.
    app.state.login_limiter_total = RateLimiter(
        settings.login_attempts * TOTAL_LOGIN_FACTOR, settings.login_window
    )

    headers = security_headers(settings)
    # Added before the header middleware, so that a 413 gets the headers too.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    @app.middleware("http")
    async def add_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(SprechzimmerError)
    async def on_error(request: Request, error: SprechzimmerError) -> JSONResponse:
        retry = getattr(error, "retry_after", 0)
        extra = {"Retry-After": str(retry)} if retry else None
        return JSONResponse(error_body(error), status_code=error.http_status, headers=extra)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, error: Exception) -> JSONResponse:
        # Our fault: a neutral sentence, and the headers every answer carries
        # (this one is made outside the middleware that adds them).
        return JSONResponse(
            error_body(InternalError()),
            status_code=InternalError.http_status,
            headers={**headers, "Cache-Control": "no-store"},
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        body = error_body(InvalidInput())
        # Field names only: the values may be passwords.
        body["fields"] = [".".join(str(x) for x in e["loc"][1:]) for e in error.errors()]
        return JSONResponse(body, status_code=InvalidInput.http_status)

    app.include_router(api.router)
    app.add_api_websocket_route("/ws", signaling_endpoint)
    app.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)

    def page(name: str) -> Callable[[], Awaitable[FileResponse]]:
        async def serve() -> FileResponse:
            return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

        return serve

    app.add_api_route("/", page("index.html"), include_in_schema=False)
    app.add_api_route("/dashboard", page("dashboard.html"), include_in_schema=False)
    app.add_api_route("/call", page("call.html"), include_in_schema=False)
    for name, paths in legal.PATHS.items():
        for lang, path in paths.items():
            app.add_api_route(path, legal.endpoint(name, lang), include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
