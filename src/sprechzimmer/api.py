"""The REST API under ``/api/v1``: login for the therapist's browser, sessions for everyone.

Two ways in: the therapist's login cookie (plus ``X-CSRF-Token`` on every
state-changing request) or an API key (``Authorization: Bearer``) for practice
software. Invite tokens appear in clear only in the answer that creates them.
Nothing here logs a password, token, key, address or client ID.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from . import accounts, billing, privacy, retention, seats, sessions
from .config import Settings
from .errors import (
    CsrfFailed,
    InvalidInput,
    InvalidLogin,
    NotAuthenticated,
    NotFound,
    RateLimited,
    ServerBusy,
)
from .hub import Hub
from .ratelimit import Backoff, RateLimiter
from .store import SessionInfo, SessionState, Store, TherapistInfo
from .tokens import digest

router = APIRouter(prefix="/api/v1")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# --- schemas ------------------------------------------------------------------


class LoginRequest(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    code: str
    csrf_token: str | None = Field(
        description="Send as X-CSRF-Token on state-changing requests (cookie logins only)."
    )
    max_seats: int = Field(
        default=1,
        description="The most client seats a new session may have here: 1, or 8 where "
        "SPRECHZIMMER_GROUP_SESSIONS allows groups.",
    )


def _printable(value: str) -> str:
    value = value.strip()
    if not value or not value.isprintable():
        raise ValueError("must be 1 to 64 printable characters")
    return value


class CreateSession(BaseModel):
    client_id: str = Field(
        min_length=1,
        max_length=64,
        description="The therapist's pseudonym for the client; stored exactly as entered.",
    )

    seats: int = Field(
        default=1,
        description="Client seats, each with its own link: 1 (the default) to 8 "
        "(SPRECHZIMMER_GROUP_SESSIONS); more is 422 too-many-seats.",
    )

    @field_validator("client_id")
    @classmethod
    def _check(cls, value: str) -> str:
        return _printable(value)


class Invite(BaseModel):
    session_id: str
    client_id: str
    therapist_url: str
    client_url: str = Field(description="The first client seat's link (`client_urls[0]`).")
    client_urls: list[str] = Field(description="One link per client seat, seat 1 first.")
    created_at: dt.datetime
    expires_at: dt.datetime


class Seat(BaseModel):
    therapist_url: str
    expires_at: dt.datetime


ListedState = Literal["open", "expired", "closed", "revoked"]


class SessionSummary(BaseModel):
    session_id: str
    reference: str = Field(
        description="The short session reference of the billing CSV (the id's first characters)."
    )
    client_id: str
    created_at: dt.datetime
    expires_at: dt.datetime = Field(description="When the session's invite links stop working.")
    state: ListedState = Field(
        description="open; expired (open, but its links have run out: new links revive it); "
        "closed (ended by the therapist); revoked (its links were withdrawn)."
    )
    waiting: bool
    in_call: bool
    waiting_since: dt.datetime | None = Field(
        description="When the waiting client began to knock; null when nobody waits "
        "(or, with several server processes, when another process holds the room)."
    )
    billable_seconds: int = Field(
        description="Billable time so far, all months (both sides' media connected)."
    )
    billable_minutes: float = Field(description="The same in minutes, two decimals.")


class SessionList(BaseModel):
    sessions: list[SessionSummary]
    now: dt.datetime = Field(
        description="The server's time of this answer: the dashboard measures waiting "
        "times against it, so that a browser's wrong clock does not lengthen them."
    )
    purge_soon: list[str] = Field(
        default_factory=list,
        description="Months (YYYY-MM) with billable sessions whose connection events "
        "and times of day the purge deletes within the next 14 days "
        "(SPRECHZIMMER_METADATA_RETENTION_DAYS): export their CSV before if the start "
        "and end times are needed; the minutes stay in the export.",
    )


# --- dependencies -------------------------------------------------------------


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _key(request: Request) -> bytes:
    key: bytes = request.app.state.secret_key
    return key


async def current_therapist(request: Request) -> TherapistInfo:
    store = _store(request)
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        therapist = await run_in_threadpool(
            store.therapist_by_api_key_hash, digest(auth[7:].strip())
        )
        if therapist is None or therapist.disabled:
            raise NotAuthenticated("bad api key")
        return therapist
    cookie = request.cookies.get(accounts.COOKIE_NAME)
    login = accounts.read_cookie(_key(request), cookie, time.time()) if cookie else None
    if login is None:
        raise NotAuthenticated("no login")
    therapist = await run_in_threadpool(store.therapist_by_id, login.therapist_id)
    if therapist is None or therapist.disabled:
        raise NotAuthenticated("therapist gone or disabled")
    if login.generation != therapist.login_generation:
        raise NotAuthenticated("login ended (logout, new password or disabled)")
    if request.method not in SAFE_METHODS and not accounts.check_csrf(
        _key(request), login.cookie, request.headers.get("x-csrf-token")
    ):
        raise CsrfFailed()
    return therapist


Therapist = Annotated[TherapistInfo, Depends(current_therapist)]


def _invite(invitation: sessions.Invitation) -> Invite:
    return Invite(**dataclasses.asdict(invitation), client_url=invitation.client_url)


# --- login --------------------------------------------------------------------


@router.post("/login", response_model=Me, tags=["login"])
async def login(body: LoginRequest, request: Request, response: Response) -> Me:
    """A correct password always gets in from a browser that logged in before;
    failed guesses slow down the next attempt for the code (never lock it), and
    are counted before the password is checked."""
    settings = _settings(request)
    key = _key(request)
    checks: accounts.PasswordChecks = request.app.state.password_checks
    total: RateLimiter = request.app.state.login_limiter_total
    now = time.time()
    therapist = await run_in_threadpool(_store(request).therapist_by_code, body.code)
    device_cookie = request.cookies.get(accounts.DEVICE_COOKIE)
    device = (
        accounts.read_device_cookie(key, device_cookie, therapist.id, now)
        if therapist is not None and device_cookie
        else None
    )
    # A known browser is slowed down only by its own failures; any other attempt
    # by the failures on the code, and by the cap on all codes together.
    backoff: Backoff = (
        request.app.state.device_backoff if device else request.app.state.login_backoff
    )
    name = device or body.code
    # Blocked for every code alike (so that it tells nothing about which exist),
    # counted only for codes that exist (so that made-up ones cannot exhaust it).
    if device is None and total.blocked("*", now):
        raise RateLimited("all codes", retry_after=settings.login_window)
    if checks.busy(device is not None):
        raise ServerBusy("password checks")
    waiting = backoff.start(name, now)
    if waiting:
        raise RateLimited("code", retry_after=waiting)
    if device is None and therapist is not None:
        total.hit("*", now)
    ok = False
    try:
        ok = await checks.verify(
            therapist.password_hash if therapist else None, body.password, device is not None
        )
        ok = ok and therapist is not None and not therapist.disabled
    finally:
        backoff.finish(name, ok, time.time())
    if not ok or therapist is None:
        raise InvalidLogin()
    if device is None:
        total.unhit("*", now)
    issued = accounts.make_cookie(
        key, therapist.id, therapist.login_generation, now, settings.login_ttl
    )
    cookie_options: dict[str, Any] = {
        "httponly": True,
        "secure": settings.secure_cookies,
        "samesite": "strict",
    }
    response.set_cookie(
        accounts.COOKIE_NAME, issued.cookie, max_age=settings.login_ttl, path="/", **cookie_options
    )
    response.set_cookie(
        accounts.DEVICE_COOKIE,
        accounts.make_device_cookie(key, therapist.id, now),
        max_age=accounts.DEVICE_TTL,
        path="/api/v1/login",  # sent nowhere else
        **cookie_options,
    )
    return _me(request, therapist.code, accounts.csrf_token(key, issued.cookie))


@router.post("/logout", status_code=204, tags=["login"])
async def logout(therapist: Therapist, request: Request, response: Response) -> None:
    """Ends every login of the therapist, on every device (the device cookie
    stays: it opens nothing by itself)."""
    await run_in_threadpool(_store(request).end_logins, therapist.id)
    response.delete_cookie(
        accounts.COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_settings(request).secure_cookies,
    )


@router.get("/me", response_model=Me, tags=["login"])
async def me(therapist: Therapist, request: Request) -> Me:
    cookie = request.cookies.get(accounts.COOKIE_NAME)
    csrf = accounts.csrf_token(_key(request), cookie) if cookie else None
    return _me(request, therapist.code, csrf)


def _me(request: Request, code: str, csrf: str | None) -> Me:
    # Groups need the operator's switch: the dashboard offers seats only where they work.
    max_seats = seats.MAX_CLIENTS if _settings(request).group_sessions else 1
    return Me(code=code, csrf_token=csrf, max_seats=max_seats)


# --- sessions -----------------------------------------------------------------


@router.post("/sessions", status_code=201, response_model=Invite, tags=["sessions"])
async def post_session(body: CreateSession, therapist: Therapist, request: Request) -> Invite:
    now = dt.datetime.now(dt.UTC)
    invitation = await run_in_threadpool(
        sessions.create_session,
        _store(request),
        _settings(request),
        therapist.id,
        body.client_id,
        now,
        body.seats,
    )
    return _invite(invitation)


_ENDED: dict[SessionState, ListedState] = {
    SessionState.CLOSED: "closed",
    SessionState.REVOKED: "revoked",
}


def _listed_state(session: SessionInfo, now: dt.datetime) -> ListedState:
    if session.state is SessionState.OPEN:
        return "expired" if session.expires_at <= now else "open"
    return _ENDED[session.state]


def _list_with_seconds(
    store: Store, settings: Settings, therapist_id: int, now: dt.datetime
) -> tuple[list[SessionInfo], dict[str, int], list[str]]:
    rows = store.list_sessions(therapist_id)
    seconds = billing.seconds_so_far(
        store, therapist_id, [s.id for s in rows], settings.reconnect_tolerance
    )
    # A session in use for longer than the metadata retention has its older months
    # in billing lines (``billing.cut``); "so far" counts them too.
    for session_id, archived in store.archived_seconds(rows).items():
        seconds[session_id] += archived
    # Not only among the listed rows: a session near its purge is months old and
    # may be past the newest 200.
    notice = retention.notice_cutoff(now, settings.metadata_retention_days)
    idle = store.idle_sessions(notice, therapist_id)
    due = {*idle, *store.sessions_with_events_before(notice, therapist_id)}
    if not due:
        return rows, seconds, []
    found = store.billing_sessions(
        billing.ALL_TIME.start,
        billing.ALL_TIME.end,
        therapist_id=therapist_id,
        session_ids=sorted(due),
    )
    months = retention.months_due(
        found, set(idle), notice, settings.zone, settings.reconnect_tolerance
    )
    return rows, seconds, [str(month) for month in months]


def _utc(moment: float | None) -> dt.datetime | None:
    return None if moment is None else dt.datetime.fromtimestamp(moment, dt.UTC)


@router.get("/sessions", response_model=SessionList, tags=["sessions"])
async def get_sessions(therapist: Therapist, request: Request) -> SessionList:
    """The therapist's sessions, newest first (the dashboard polls this every few seconds)."""
    hub = _hub(request)
    now = dt.datetime.now(dt.UTC)
    rows, seconds, purge_soon = await run_in_threadpool(
        _list_with_seconds, _store(request), _settings(request), therapist.id, now
    )
    summaries = []
    live = await hub.statuses([s.id for s in rows])
    for s in rows:
        waiting, in_call, since = live[s.id]
        summaries.append(
            SessionSummary(
                session_id=s.id,
                reference=billing.reference(s.id),
                client_id=s.client_id,
                created_at=s.created_at,
                expires_at=s.expires_at,
                state=_listed_state(s, now),
                waiting=waiting,
                in_call=in_call,
                waiting_since=_utc(since),
                billable_seconds=seconds[s.id],
                billable_minutes=float(billing.to_minutes(seconds[s.id])),
            )
        )
    return SessionList(sessions=summaries, now=now, purge_soon=purge_soon)


async def _own_session(request: Request, therapist: TherapistInfo, session_id: str) -> SessionInfo:
    session = await run_in_threadpool(_store(request).get_session, session_id)
    # Another therapist's session is "not found", so its existence is not revealed.
    if session is None or session.therapist_id != therapist.id:
        raise NotFound("session")
    return session


@router.post("/sessions/{session_id}/links", response_model=Invite, tags=["sessions"])
async def post_links(session_id: str, therapist: Therapist, request: Request) -> Invite:
    session = await _own_session(request, therapist, session_id)
    if session.state is not SessionState.OPEN:
        raise NotFound("session revoked")
    now = dt.datetime.now(dt.UTC)
    invitation = await run_in_threadpool(
        sessions.new_links, _store(request), _settings(request), session, now
    )
    return _invite(invitation)


@router.post("/sessions/{session_id}/join", response_model=Seat, tags=["sessions"])
async def post_join(session_id: str, therapist: Therapist, request: Request) -> Seat:
    """The therapist's own seat: one therapist token, no client link, no new expiry."""
    session = await _own_session(request, therapist, session_id)
    if session.state is not SessionState.OPEN or session.expires_at <= dt.datetime.now(dt.UTC):
        raise NotFound("session revoked or expired")
    url = await run_in_threadpool(
        sessions.therapist_link, _store(request), _settings(request), session
    )
    return Seat(therapist_url=url, expires_at=session.expires_at)


@router.delete("/sessions/{session_id}", status_code=204, tags=["sessions"])
async def delete_session(session_id: str, therapist: Therapist, request: Request) -> None:
    """Revoke: the links are withdrawn and a running call is cut; the record stays."""
    await _own_session(request, therapist, session_id)
    await run_in_threadpool(_store(request).revoke_session, session_id)
    await _hub(request).revoke(session_id)


@router.post("/sessions/{session_id}/close", status_code=204, tags=["sessions"])
async def post_close(session_id: str, therapist: Therapist, request: Request) -> None:
    """End the session: its links stop working and a running call ends. Its billable
    time stays in the export. Closing an ended session again changes nothing."""
    await _own_session(request, therapist, session_id)
    # The store first, so that nobody gets in again between the two steps.
    await run_in_threadpool(_store(request).close_session, session_id)
    await _hub(request).revoke(session_id)


@router.delete("/sessions/{session_id}/record", status_code=204, tags=["sessions"])
async def delete_record(session_id: str, therapist: Therapist, request: Request) -> None:
    """Erase the session's record (GDPR art. 17): the session row, its tokens and its
    billing events, so that a real name typed as client ID by mistake is in no table
    afterwards. Its minutes leave the billing export.

    A path of its own, not ``DELETE /sessions/{id}``: that one revokes and keeps the
    record, and practice software uses it; erasing must never happen by that mistake."""
    await _own_session(request, therapist, session_id)
    store, hub = _store(request), _hub(request)
    # Nobody gets in any more, then the live sockets end (their last events are
    # written, and erased with the rest below), then the rows go. A room another
    # process owns ends within seconds (``Hub.enforce_revocations``); what it still
    # writes finds no session and is dropped there.
    await run_in_threadpool(store.close_session, session_id)
    await hub.revoke(session_id)
    await run_in_threadpool(privacy.delete_session, store, session_id)


# --- billing ------------------------------------------------------------------


def _month_report(
    store: Store,
    settings: Settings,
    therapist_id: int,
    month: billing.Month,
    lang: billing.CsvLang,
) -> str:
    lines = billing.therapist_month(
        store, therapist_id, month, settings.zone, settings.reconnect_tolerance
    )
    return billing.to_csv(lines, lang)


_CSV_NAME: dict[billing.CsvLang, str] = {"de": "abrechnung", "en": "billing"}


@router.get(
    "/billing",
    tags=["billing"],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One line per session."}},
)
async def get_billing(
    therapist: Therapist,
    request: Request,
    month: Annotated[str, Query(description="Calendar month of the practice, YYYY-MM.")],
    lang: Annotated[
        billing.CsvLang,
        Query(
            description="de: for German spreadsheets (';', decimal comma, German headers, "
            "dates 31.12.2026); en: ',', decimal point, English headers, dates 2026-12-31. "
            "Both start with a UTF-8 byte order mark."
        ),
    ] = "de",
) -> Response:
    """Billable time (both sides' media connected) per session in ``month``, as CSV:
    date, client ID, start and end (practice time zone), minutes, seconds, session reference."""
    try:
        parsed = billing.Month.parse(month)
    except ValueError:
        raise InvalidInput("month") from None
    text = await run_in_threadpool(
        _month_report, _store(request), _settings(request), therapist.id, parsed, lang
    )
    name = f"{_CSV_NAME[lang]}-{parsed}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- link check (the call page, before it asks for camera and microphone) -------


class LinkCheckRequest(BaseModel):
    """The link's fragment, in the body: never in a URL, where logs would keep it."""

    model_config = {"extra": "forbid"}
    session: str = Field(max_length=64)
    token: str = Field(max_length=64)


class LinkCheck(BaseModel):
    role: str = Field(pattern="^(therapist|client)$", description="Whose link it is.")
    expires_at: dt.datetime = Field(
        description="Until when the link works: the earlier of its own and its session's expiry."
    )
    practice_name: str = Field(description="SPRECHZIMMER_PRACTICE_NAME; empty when not set.")
    neutral_title: str = Field(
        default="",
        description="SPRECHZIMMER_NEUTRAL_TITLE: the tab title of a client's call page; "
        "empty when not set (the usual title).",
    )
    client_name: str = Field(
        pattern="^(required|optional)$",
        description="SPRECHZIMMER_CLIENT_NAME: whether a client's page must ask for the "
        "name the client wants to be addressed by before it joins.",
    )


@router.post(
    "/links/check",
    response_model=LinkCheck,
    tags=["links"],
    responses={
        404: {"description": "`link-invalid`: no such link (also a wrong token)."},
        410: {"description": "`link-expired`, or `link-revoked`: the session was closed."},
        429: {"description": "`rate-limited`: too many checks; join as before."},
    },
)
async def post_link_check(body: LinkCheckRequest, request: Request) -> LinkCheck:
    """Whether an invite link works now, asked by the call page before any device
    prompt. Takes no seat, records nothing and consumes nothing: ``hello`` checks
    the link again when the page joins. Needs no login (the link is the credential)."""
    admission = await _hub(request).check_link(body.session, body.token)
    return LinkCheck(
        role=admission.role.value,
        expires_at=dt.datetime.fromtimestamp(admission.expires_at, dt.UTC),
        practice_name=_settings(request).practice_name,
        neutral_title=_settings(request).neutral_title,
        client_name=_settings(request).client_name,
    )
