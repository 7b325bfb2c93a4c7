"""Errors, sorted by who has to see them, and their one mapping to the wire.

::

    SprechzimmerError
    ├── UserError          a person can act on it; shown in German or English
    ├── ProtocolError      a bug or an attack on the signaling socket; it is closed
    │   ├── BadMessage     not parseable or not valid (close 4000)
    │   │   └── NameRequired, NameInvalid, ConsentRequired   a client's hello
    │   │                  without what its page asks first (its own sentence)
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


class NameRequired(BadMessage):
    """A client's first ``hello`` without a name while the operator requires one
    (``SPRECHZIMMER_CLIENT_NAME``). The page asks for it first, so this is said to
    another client, or to a page that thought the name optional."""

    code = "name-required"
    sentence = Sentence(
        "Please enter the name you would like to be addressed by, then join again.",
        "Bitte geben Sie den Namen an, mit dem Sie angesprochen werden möchten, und treten "
        "Sie dann erneut bei.",
    )


class NameInvalid(BadMessage):
    """A ``hello`` whose name cannot be shown: too long, blank, or with a control
    character. Its detail says which, never the name."""

    code = "name-invalid"
    sentence = Sentence(
        "The name can have at most 80 characters and no control characters. "
        "Please correct it and join again.",
        "Der Name darf höchstens 80 Zeichen lang sein und keine Steuerzeichen enthalten. "
        "Bitte korrigieren Sie ihn und treten Sie erneut bei.",
    )


class ConsentRequired(BadMessage):
    """A client's first ``hello`` without ``consent: true``."""

    code = "consent-required"
    sentence = Sentence(
        "Please confirm the terms of use and the privacy notice, then join again.",
        "Bitte bestätigen Sie die Nutzungsbedingungen und die Datenschutzhinweise und "
        "treten Sie dann erneut bei.",
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


class SessionEnded(Forbidden):
    """The therapist closed or revoked the session while its members were in it:
    not a dead link to the people in the room, but an ending they should be told."""

    code = "session-ended"
    sentence = Sentence(
        "This session has been ended by the practice.",
        "Diese Sitzung wurde von der Praxis beendet.",
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
    """The seat is held by another browser: a decision, not a broken line. The page
    names the next step (no retry: the same link finds the seat held again)."""

    code = "occupied"
    close_code = 4009
    http_status = 409
    sentence = Sentence(
        "Someone is already in this consultation with this link. If that is you in "
        "another window or on another device, please continue there.",
        "Mit diesem Link ist bereits jemand in dieser Sitzung. Wenn Sie das in einem "
        "anderen Fenster oder auf einem anderen Gerät sind, machen Sie bitte dort weiter.",
    )
    client_sentence: ClassVar[Sentence] = Sentence(
        sentence.en + " Otherwise please ask your therapist for a new link.",
        sentence.de + " Sonst fragen Sie bitte Ihre Therapeutin oder Ihren Therapeuten "
        "nach einem neuen Link.",
    )

    def __init__(self, detail: str = "", *, client_link: bool = False) -> None:
        super().__init__(detail)
        self.client_link = client_link
        """Refused with the client link: its holder may need a new one."""

    def say(self) -> Sentence:
        return self.client_sentence if self.client_link else self.sentence


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
        "Ihr Gegenüber ist gerade nicht verbunden.",
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


class TooManySeats(UserError):
    """A session asked for with no client seat or more than eight (``seats.py``)."""

    code = "too-many-seats"
    http_status = 422
    sentence = Sentence(
        "A session has 1 to 8 client seats: at most 9 people take part in one call, "
        "8 clients and the therapist.",
        "Eine Sitzung hat 1 bis 8 Plätze für Klientinnen und Klienten: An einem Gespräch "
        "nehmen höchstens 9 Personen teil, 8 Klientinnen und Klienten und die Therapeutin "
        "oder der Therapeut.",
    )


class GroupSessionsOff(UserError):
    """A session with more than one client seat, while ``SPRECHZIMMER_GROUP_SESSIONS``
    is off."""

    code = "group-sessions-off"
    http_status = 422
    sentence = Sentence(
        "Group sessions are not switched on for this service: a session has one client seat.",
        "Gruppensitzungen sind bei diesem Dienst nicht eingeschaltet: Eine Sitzung hat einen "
        "Platz für eine Klientin oder einen Klienten.",
    )


class SfuUnavailable(UserError):
    """The SFU refused or did not answer a member's publication or subscription: that
    media does not flow (the page may try again by starting over); not fatal."""

    code = "sfu-unavailable"
    http_status = 503
    close_code = None
    sentence = Sentence(
        "The service's media server did not answer; the picture of a group member may "
        "be missing. It is tried again when the call starts anew.",
        "Der Medienserver des Dienstes hat nicht geantwortet; das Bild einer Person der "
        "Gruppe kann fehlen. Beim nächsten Neustart des Gesprächs wird es erneut versucht.",
    )


class GroupNeedsSfu(UserError):
    """An admission that would make a call of more than three people on a service
    without an SFU: a full mesh of four or more would overload phones and uplinks."""

    code = "group-needs-sfu"
    http_status = 409
    close_code = None
    sentence = Sentence(
        "More than three people in one call need the service's media server (SFU), "
        "which is not set up here. Admit at most two clients at a time.",
        "Für mehr als drei Personen in einem Gespräch braucht dieser Dienst seinen "
        "Medienserver (SFU), der hier nicht eingerichtet ist. Lassen Sie höchstens zwei "
        "Klientinnen oder Klienten zugleich eintreten.",
    )


class LinkInvalid(UserError):
    """The link check (``POST /api/v1/links/check``): no such link. The same for a
    wrong token, an unknown session and a link whose token is gone (revoked, or
    expired and purged), so that the answer reveals nothing."""

    code = "link-invalid"
    http_status = 404
    sentence = Sentence(
        "This link does not work. It may be incomplete, expired or withdrawn. "
        "Please ask your therapist for a new link.",
        "Dieser Link funktioniert nicht. Vielleicht ist er unvollständig, abgelaufen oder "
        "wurde zurückgezogen. Bitte fragen Sie Ihre Therapeutin oder Ihren Therapeuten "
        "nach einem neuen Link.",
    )


class LinkExpired(UserError):
    code = "link-expired"
    http_status = 410
    sentence = Sentence(
        "This link has expired. Please ask your therapist for a new link.",
        "Dieser Link ist abgelaufen. Bitte fragen Sie Ihre Therapeutin oder Ihren "
        "Therapeuten nach einem neuen Link.",
    )


class LinkRevoked(UserError):
    """The link is genuine, but its session was closed (or its therapist's account)."""

    code = "link-revoked"
    http_status = 410
    sentence = Sentence(
        "This consultation has been closed; the link no longer works. "
        "Please contact your therapist.",
        "Diese Sitzung wurde beendet; der Link funktioniert nicht mehr. Bitte wenden Sie "
        "sich an Ihre Therapeutin oder Ihren Therapeuten.",
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
