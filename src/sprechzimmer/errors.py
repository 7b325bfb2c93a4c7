"""Errors, sorted by who has to see them, and their one mapping to the wire.

::

    SprechzimmerError
    ├── UserError          a person can act on it; shown in German or English
    ├── ProtocolError      a bug or an attack on the signaling socket; it is closed
    │   ├── BadMessage     not parseable or not valid (close 4000)
    │   ├── TooLarge       over the size bound (close 1009)
    │   ├── NotAuthenticated, AuthTimeout   (close 4001)
    │   ├── Forbidden, NotAllowed           (close 4003)
    │   ├── Occupied, Replaced              (close 4009)
    │   ├── Timeout        heartbeats missed (close 4408)
    │   ├── SlowDown       over a socket's message rate, or a seat's join rate (close 4429)
    │   └── ServerBusy     too many sockets not yet signed in (HTTP 503 at the handshake)
    └── InternalError      our fault (close 1011 / HTTP 500); logged without data

The error codes, close codes and sentences here are the ones documented in
``docs/protocol.md``; this is the only place that maps them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Sentence:
    en: str
    de: str


class SprechzimmerError(Exception):
    code: ClassVar[str] = "internal"
    close_code: ClassVar[int | None] = 1011
    http_status: ClassVar[int] = 500
    sentence: ClassVar[Sentence] = Sentence(
        "Something went wrong on our side. Please try again.",
        "Auf unserer Seite ist ein Fehler aufgetreten. Bitte versuchen Sie es erneut.",
    )

    def __init__(self, detail: str = "") -> None:
        # ``detail`` is for logs and tests; it must never contain tokens or addresses.
        super().__init__(detail or self.code)
        self.detail = detail

    @property
    def fatal(self) -> bool:
        return self.close_code is not None

    def say(self) -> Sentence:
        """What the person is told; the class's sentence unless an error has more to say."""
        return self.sentence


class UserError(SprechzimmerError):
    http_status = 400


class ProtocolError(SprechzimmerError):
    http_status = 400


class InternalError(SprechzimmerError):
    pass


class BadMessage(ProtocolError):
    code = "bad-message"
    close_code = 4000
    sentence = Sentence(
        "The connection received an invalid message and was closed.",
        "Die Verbindung hat eine ungültige Nachricht erhalten und wurde beendet.",
    )


class TooLarge(ProtocolError):
    code = "too-large"
    close_code = 1009
    http_status = 413
    sentence = Sentence(
        "A message was too large; the connection was closed.",
        "Eine Nachricht war zu groß; die Verbindung wurde beendet.",
    )


class NotAuthenticated(ProtocolError):
    code = "not-authenticated"
    close_code = 4001
    http_status = 401
    sentence = Sentence(
        "Please sign in first.",
        "Bitte melden Sie sich zuerst an.",
    )


class AuthTimeout(NotAuthenticated):
    code = "auth-timeout"
    sentence = Sentence(
        "The connection was not authenticated in time.",
        "Die Verbindung wurde nicht rechtzeitig angemeldet.",
    )


class Forbidden(ProtocolError):
    code = "forbidden"
    close_code = 4003
    http_status = 403
    sentence = Sentence(
        "This link is not valid (any more). Please ask your therapist for a new one.",
        "Dieser Link ist nicht (mehr) gültig. Bitte fragen Sie Ihre Therapeutin oder "
        "Ihren Therapeuten nach einem neuen.",
    )


class NotAllowed(ProtocolError):
    code = "not-allowed"
    close_code = 4003
    http_status = 403
    sentence = Sentence(
        "This action is not allowed here.",
        "Diese Aktion ist hier nicht erlaubt.",
    )


class Occupied(ProtocolError):
    code = "occupied"
    close_code = 4009
    http_status = 409
    sentence = Sentence(
        "Someone is already in this consultation with this link.",
        "Mit diesem Link ist bereits jemand in dieser Sitzung.",
    )


class Replaced(ProtocolError):
    code = "replaced"
    close_code = 4009
    sentence = Sentence(
        "You joined this consultation from another window; this one was closed.",
        "Sie sind dieser Sitzung in einem anderen Fenster beigetreten; dieses wurde geschlossen.",
    )


class Timeout(ProtocolError):
    code = "timeout"
    close_code = 4408
    sentence = Sentence(
        "The connection was silent for too long and was closed.",
        "Die Verbindung war zu lange still und wurde beendet.",
    )


class SlowDown(ProtocolError):
    code = "slow-down"
    close_code = 4429
    http_status = 429
    sentence = Sentence(
        "Too many messages in a short time; the connection was closed.",
        "Zu viele Nachrichten in kurzer Zeit; die Verbindung wurde beendet.",
    )


class ServerBusy(ProtocolError):
    code = "server-busy"
    close_code = 1013
    http_status = 503
    sentence = Sentence(
        "The service is busy right now. Please try again in a moment.",
        "Der Dienst ist gerade ausgelastet. Bitte versuchen Sie es gleich noch einmal.",
    )


class BodyTooLarge(UserError):
    code = "request-too-large"
    http_status = 413
    sentence = Sentence(
        "The request is too large.",
        "Die Anfrage ist zu groß.",
    )


class NoPeer(UserError):
    """A relay while the other side is not connected: dropped with a notice, not fatal."""

    code = "no-peer"
    close_code = None
    http_status = 409
    sentence = Sentence(
        "The other side is not connected right now.",
        "Die andere Seite ist gerade nicht verbunden.",
    )


class InvalidLogin(UserError):
    code = "invalid-login"
    http_status = 401
    sentence = Sentence(
        "Code or password is wrong.",
        "Kennung oder Passwort ist falsch.",
    )


class RateLimited(UserError):
    code = "rate-limited"
    http_status = 429
    sentence = Sentence(
        "Too many attempts. Please wait a few minutes.",
        "Zu viele Versuche. Bitte warten Sie einige Minuten.",
    )

    def __init__(self, detail: str = "", retry_after: float = 0.0) -> None:
        super().__init__(detail)
        self.retry_after = math.ceil(retry_after)
        """Seconds until the next attempt may start; 0: unknown."""

    def say(self) -> Sentence:
        n = self.retry_after
        if n <= 0:
            return self.sentence
        return Sentence(
            f"Too many failed attempts. Please try again in {n} seconds.",
            f"Zu viele Fehlversuche. Bitte versuchen Sie es in {n} Sekunden erneut.",
        )


class CsrfFailed(UserError):
    code = "csrf-failed"
    http_status = 403
    sentence = Sentence(
        "The request could not be verified. Please reload the page.",
        "Die Anfrage konnte nicht bestätigt werden. Bitte laden Sie die Seite neu.",
    )


class NotFound(UserError):
    code = "not-found"
    http_status = 404
    sentence = Sentence("Not found.", "Nicht gefunden.")


class InvalidInput(UserError):
    code = "invalid-input"
    http_status = 422
    sentence = Sentence(
        "The input is not valid.",
        "Die Eingabe ist ungültig.",
    )


class InvalidState(InternalError):
    """An illegal state transition: a bug in our own code."""


def close_code(error: SprechzimmerError | None) -> int:
    """The WebSocket close code for ending a socket with ``error``; None is a normal
    close (1000). The one place that turns the table above into a number."""
    if error is None:
        return 1000
    return error.close_code if error.close_code is not None else InternalError.close_code or 1011


def error_body(error: SprechzimmerError) -> dict[str, object]:
    """The JSON body of an HTTP error response."""
    return {
        "error": {
            "code": error.code,
            "message": error.say().en,
            "message_de": error.say().de,
        }
    }
