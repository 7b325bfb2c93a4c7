"""Configuration from environment variables (prefix ``SPRECHZIMMER_``) and ``.env``.

Every setting is validated at start-up. A wrong value stops the service with
one sentence that names the variable (``ConfigError``), never a traceback.
This module must never print or log a secret value.
"""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .outbox import OutboxLimits
from .protocol import DEFAULT_MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES_LIMIT
from .quality import MAX_RETENTION_DAYS
from .retention import DEFAULT_METADATA_DAYS, METADATA_DAYS_RANGE
from .room import RoomConfig
from .turn import (
    EU_EEA_REGIONS,
    IcePolicy,
    IceServerSpec,
    check_url,
    describe_regions,
    regions_outside,
)

ENV_PREFIX = "SPRECHZIMMER_"
MAX_PRACTICE_NAME = 100
"""Characters of ``SPRECHZIMMER_PRACTICE_NAME`` at most (one line on a phone, twice)."""


class ConfigError(Exception):
    """A setting is wrong; the message is one sentence naming the variable."""


class IceServer(BaseModel):
    """One STUN/TURN server the operator runs, with the region it stands in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(min_length=1)
    region: str = Field(min_length=2, max_length=8)
    """ISO 3166 country code where the server stands (checked against ``allowed_regions``)."""
    auth: Literal["none", "rest", "static"] = "none"
    """``rest``: credentials minted per participant from ``turn_secret`` (recommended)."""
    username: str | None = None
    credential: str | None = None

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            check_url(url)
        return value


class Settings(BaseSettings):
    """All settings of one deployment. Defaults run a single process on SQLite."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = Path("data")
    """Where the SQLite file and the generated secret key live."""

    database_url: str = ""
    """SQLAlchemy URL; empty means ``sqlite:///<data_dir>/sprechzimmer.sqlite3``."""

    redis_url: str = ""
    """Redis shared by several server processes (``redis://host:6379/0``,
    ``unix:///path/redis.sock``); empty: one process, rooms in its own memory."""

    public_url: str = "http://127.0.0.1:8000"
    """The origin browsers use to reach the service; invite links start with it."""

    allowed_origins: list[str] = Field(default_factory=list)
    """Extra origins accepted on the WebSocket besides ``public_url``."""

    secret_key: str = ""
    """Signs login cookies. Empty: generated once and kept in ``data_dir``."""

    token_ttl: Annotated[int, Field(ge=60, le=30 * 24 * 3600)] = 24 * 3600
    """Seconds an invite link stays valid (default 24 h)."""

    login_ttl: Annotated[int, Field(ge=300, le=7 * 24 * 3600)] = 12 * 3600
    """Seconds a therapist's login cookie stays valid."""

    auth_deadline: Annotated[float, Field(gt=0, le=60)] = 5.0
    """Seconds an unauthenticated WebSocket may stay open before ``hello``."""

    heartbeat_interval: Annotated[float, Field(gt=0, le=300)] = RoomConfig.heartbeat_interval
    """Seconds between the browsers' pings; silence for three of them ends a member."""

    max_message_bytes: Annotated[int, Field(ge=4096, le=MAX_MESSAGE_BYTES_LIMIT)] = (
        DEFAULT_MAX_MESSAGE_BYTES
    )
    """Largest signaling frame accepted from a browser (the browser sends at most the default)."""

    rate_messages: Annotated[float, Field(gt=0, le=10_000)] = 20.0
    """Messages a second one signaling socket may send on average; more closes it (4429)."""

    rate_burst: Annotated[int, Field(ge=1, le=100_000)] = 100
    """Messages one signaling socket may send at once (a call's first ICE candidates)."""

    seat_joins: Annotated[int, Field(ge=2, le=10_000)] = 20
    """Joins of one seat (a session's therapist or client) per minute; more are refused."""

    media_debounce: Annotated[float, Field(ge=0, le=60)] = RoomConfig.media_debounce
    """Seconds: a member's media changes are recorded at most this often (the last one wins)."""

    max_events_per_session: Annotated[int, Field(ge=100, le=1_000_000)] = RoomConfig.max_events
    """Billing events stored per session at most; beyond it the session records nothing."""

    max_pending_sockets: Annotated[int, Field(ge=1, le=100_000)] = 256
    """Signaling sockets that have not sent ``hello`` yet; more get HTTP 503."""

    max_body_bytes: Annotated[int, Field(ge=1024, le=1 << 26)] = 64 << 10
    """Largest HTTP request body; larger ones get 413 before they are read."""

    header_timeout: Annotated[float, Field(gt=0, le=300)] = 10.0
    """Seconds a client may take to send a request's headers."""

    resume_grace: Annotated[float, Field(ge=5, le=3600)] = RoomConfig.resume_grace
    """Seconds a member whose socket went keeps its seat for its browser to come back."""

    send_timeout: Annotated[float, Field(ge=0.5, le=120)] = OutboxLimits.send_timeout
    """Seconds one outgoing frame may wait for a socket; a socket that does not read
    is dropped after it."""

    send_queue_frames: Annotated[int, Field(ge=16, le=100_000)] = OutboxLimits.max_frames
    """Frames that may wait for one socket; more and the socket is dropped."""

    send_queue_bytes: Annotated[int, Field(ge=1 << 16, le=1 << 28)] = OutboxLimits.max_bytes
    """Bytes that may wait for one socket; more and the socket is dropped."""

    login_attempts: Annotated[int, Field(ge=1, le=1000)] = 5
    """Failed logins per therapist code that cost no wait; each further one doubles
    the wait before the next attempt (1 s, 2 s, 4 s, ... up to ``login_max_delay``)."""

    login_window: Annotated[int, Field(ge=1, le=86400)] = 300
    """Seconds of quiet after which a code's failed logins are forgotten; also the
    window of the cap on failed logins of all codes together."""

    login_max_delay: Annotated[int, Field(ge=1, le=3600)] = 60
    """The longest wait failed logins put before the next attempt for a code. A
    browser that logged in as that therapist before never waits for others' failures."""

    ice_servers: list[IceServer] = Field(default_factory=list)
    """STUN/TURN servers handed to browsers (JSON). Empty: none, never a public one."""

    allowed_regions: list[str] = Field(default_factory=lambda: list(EU_EEA_REGIONS))
    """Regions every STUN/TURN server must stand in; start-up fails otherwise. The EU and
    EEA states by default (KBV Anlage 31b: servers only in the EU); a region beyond them
    (e.g. ``CH``) only when set here, and ``sprechzimmer audit`` then warns."""

    turn_secret: str = ""
    """coturn's ``static-auth-secret``; needed by servers declared with ``auth: rest``."""

    turn_ttl: Annotated[int, Field(ge=300, le=24 * 3600)] = 3 * 3600
    """Seconds the TURN credentials handed to a participant stay valid."""

    turn_realm: str = "sprechzimmer"

    sfu_secret: str = ""
    """The secret shared with the SFU (Janus, for group sessions): its API secret, admin
    secret and room key are derived from it (``sfu.py``). Empty: no SFU."""

    sfu_url: str = "http://127.0.0.1:8088/janus"
    """The SFU's API, which only this server talks to (loopback in the hardened setup)."""

    relay_only: bool = False
    """All media through the relay, so that neither side learns the other's address."""

    rekey_interval: Annotated[float, Field(ge=2, le=3600)] = RoomConfig.rekey_interval
    """Seconds between frame-key renewals the server asks the two browsers for."""

    e2ee_required: bool = True
    """A call whose browsers cannot do frame encryption may not go on (fail closed)."""

    group_sessions: bool = True
    """Sessions with more than one client seat may be made (issue 16): up to three
    people meet directly, more through the SFU (``sfu_secret``; without one, a fourth
    admission is refused with a sentence). Off: one-to-one sessions only."""

    embedded_turn: bool = False
    """Start a local coturn (Debian package ``coturn``) with a generated secret."""

    embedded_turn_host: str = "127.0.0.1"
    """The address the embedded relay listens and relays on, and browsers reach it at."""

    embedded_turn_port: Annotated[int, Field(ge=1, le=65535)] = 3478

    max_bitrate_kbps: Annotated[int, Field(ge=100, le=100_000)] = RoomConfig.max_bitrate_kbps
    """Cap on each outgoing video stream, in kbit/s, sent to the browsers with ``admitted``."""

    relay_max_bitrate_kbps: Annotated[int, Field(ge=100, le=100_000)] = (
        RoomConfig.relay_max_bitrate_kbps
    )
    """The lower cap while a call goes through the TURN relay (relay bandwidth costs)."""

    quality_retention_days: int = 90
    """Days anonymous quality samples are kept (at most 90); 0 keeps none."""

    billing_reconnect_tolerance: Annotated[float, Field(ge=0, le=600)] = 30.0
    """Seconds: a reconnect within this does not split a billable interval."""

    metadata_retention_days: int = DEFAULT_METADATA_DAYS
    """Days a session, its connection events and its times are kept after its links
    expired and its last event (KBV Anlage 31b: at most 90); then only its billing
    lines stay."""

    billing_retention_days: Annotated[int, Field(ge=35, le=3650)] = 400
    """Days the billing lines of sessions past ``metadata_retention_days`` are kept,
    counted from their billing day (until 0004: days sessions and events were kept)."""

    practice_timezone: str = "Europe/Berlin"
    """IANA zone whose calendar months and dates the billing reports use."""

    client_name: Literal["required", "optional"] = "required"
    """Whether a client must give the name it wants to be addressed by before it
    joins (KBV Anlage 31b: the therapist must recognise the patient). The name goes
    to the therapist's screen only and is never stored (``docs/privacy.md``)."""

    practice_name: str = ""
    """The practice's name as the call page shows it to both sides once their link
    checked out (``POST /api/v1/links/check``); empty: none is shown."""

    neutral_title: str = ""
    """The tab title of a client's call page (e.g. "Dokument"), so that a glance at
    the tab bar does not show a consultation; empty: the usual title."""

    legal_dir: Path | None = None
    """The operator's own terms, imprint and privacy details (``terms.de.md`` and so on,
    see ``sprechzimmer.legal``); unset: the pages show the shipped templates, marked as
    not filled in."""

    metrics_token: str = ""
    """Bearer token for ``GET /metrics``; empty: the endpoint does not exist (404)."""

    log_level: str = "info"

    @field_validator("quality_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if not 0 <= value <= MAX_RETENTION_DAYS:
            raise ValueError(
                f"quality samples may be kept at most {MAX_RETENTION_DAYS} days; "
                f"use a number from 0 (keep none) to {MAX_RETENTION_DAYS}"
            )
        return value

    @field_validator("metadata_retention_days")
    @classmethod
    def _metadata_retention(cls, value: int) -> int:
        low, high = METADATA_DAYS_RANGE
        if not low <= value <= high:
            raise ValueError(
                f"use a number of days from {low} to {high} (default {DEFAULT_METADATA_DAYS}; "
                f"KBV Anlage 31b allows at most 90). Fewer than {low} would delete a "
                f"month's connection events before its billing export"
            )
        return value

    @field_validator("practice_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
        return value

    @field_validator("practice_name", "neutral_title")
    @classmethod
    def _practice_name(cls, value: str) -> str:
        value = value.strip()
        if len(value) > MAX_PRACTICE_NAME:
            raise ValueError(f"use at most {MAX_PRACTICE_NAME} characters")
        if not value.isprintable():
            raise ValueError("use printable characters only (no line breaks or control characters)")
        return value

    @field_validator("legal_dir", mode="before")
    @classmethod
    def _legal_dir(cls, value: object) -> object:
        # An empty variable means "not set", never the working directory.
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not Path(str(value)).is_dir():
            raise ValueError(f"{value} is not a directory")
        return value

    @field_validator("public_url")
    @classmethod
    def _origin_like(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://video.example.org")
        return value.rstrip("/")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ValueError(f"{origin!r} is not an origin such as https://video.example.org")
        return [o.rstrip("/") for o in value]

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.lower()
        if value not in ("debug", "info", "warning", "error"):
            raise ValueError("must be one of debug, info, warning, error")
        return value

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    def ice_policy(self, extra: tuple[IceServerSpec, ...] = (), secret: str = "") -> IcePolicy:
        specs = tuple(
            IceServerSpec(tuple(s.urls), s.region, s.auth, s.username, s.credential)
            for s in self.ice_servers
        )
        return IcePolicy(
            servers=specs + extra,
            secret=secret or self.turn_secret,
            ttl=self.turn_ttl,
            relay_only=self.relay_only,
        )

    def room_config(self, ice: IcePolicy) -> RoomConfig:
        """What every room of this deployment is told (by name: two ``int`` caps
        side by side must not be swappable); of the ICE servers, all but the
        TURN secret."""
        return RoomConfig(
            heartbeat_interval=self.heartbeat_interval,
            ice=ice.offer(),
            rekey_interval=self.rekey_interval,
            e2ee_required=self.e2ee_required,
            max_bitrate_kbps=self.max_bitrate_kbps,
            relay_max_bitrate_kbps=self.relay_max_bitrate_kbps,
            resume_grace=self.resume_grace,
            media_debounce=self.media_debounce,
            max_events=self.max_events_per_session,
            client_name_required=self.client_name == "required",
            sfu=bool(self.sfu_secret),
        )

    def outbox_limits(self) -> OutboxLimits:
        return OutboxLimits(
            send_timeout=self.send_timeout,
            max_frames=self.send_queue_frames,
            max_bytes=self.send_queue_bytes,
        )

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.practice_timezone)

    @property
    def reconnect_tolerance(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.billing_reconnect_tolerance)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'sprechzimmer.sqlite3'}"

    def effective_secret_key(self) -> bytes:
        """The cookie-signing key; generated and kept in ``data_dir`` when unset."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()


def private_directory(path: Path) -> None:
    """The data directory and every file in it readable by the service's user alone
    (0700/0600), also where an earlier version made them readable for everybody."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    for entry in path.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.chmod(0o600)


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + str(loc[0]).upper() if loc else ENV_PREFIX + "?"


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings, or raise ``ConfigError`` with one sentence."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        raise ConfigError(f"{_env_name(first.get('loc', ()))} is invalid: {message}.") from None
    if settings.secret_key and len(settings.secret_key) < 32:
        raise ConfigError(f"{ENV_PREFIX}SECRET_KEY is invalid: use at least 32 characters.")
    outside = regions_outside(settings.ice_policy().servers, settings.allowed_regions)
    if outside:
        raise ConfigError(
            f"{ENV_PREFIX}ICE_SERVERS is invalid: {', '.join(outside)} stands outside the "
            f"allowed regions ({describe_regions(settings.allowed_regions)}); all "
            f"infrastructure must stay in the operator's region."
        )
    if any(s.auth == "rest" for s in settings.ice_servers) and len(settings.turn_secret) < 32:
        raise ConfigError(
            f"{ENV_PREFIX}TURN_SECRET is invalid: servers with auth 'rest' need coturn's "
            f"shared secret, at least 32 characters."
        )
    if settings.sfu_secret and len(settings.sfu_secret) < 32:
        raise ConfigError(
            f"{ENV_PREFIX}SFU_SECRET is invalid: use at least 32 characters, e.g. from "
            f"`openssl rand -base64 32`."
        )
    if not settings.sfu_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"{ENV_PREFIX}SFU_URL is invalid: the SFU's API address starts with http:// or "
            f"https://, e.g. http://127.0.0.1:8088/janus."
        )
    if settings.relay_max_bitrate_kbps > settings.max_bitrate_kbps:
        raise ConfigError(
            f"{ENV_PREFIX}RELAY_MAX_BITRATE_KBPS is invalid: the cap while relayed cannot be "
            f"higher than {ENV_PREFIX}MAX_BITRATE_KBPS ({settings.max_bitrate_kbps})."
        )
    if settings.metrics_token and len(settings.metrics_token) < 32:
        raise ConfigError(
            f"{ENV_PREFIX}METRICS_TOKEN is invalid: use at least 32 characters, e.g. from "
            f"`openssl rand -hex 32`."
        )
    if settings.relay_only and not (settings.embedded_turn or settings.ice_policy().has_turn):
        raise ConfigError(
            f"{ENV_PREFIX}RELAY_ONLY is invalid: relay-only calls need a TURN server in "
            f"{ENV_PREFIX}ICE_SERVERS or {ENV_PREFIX}EMBEDDED_TURN."
        )
    return settings
