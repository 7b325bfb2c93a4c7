"""A session's seats: the therapist's and one to eight clients'.

Every person in a session holds a numbered seat: the therapist seat 0, the
clients seats 1 to ``count``. Each client seat has its own invite link and
token, so that each person can be admitted, declined, billed and revoked on
their own; tokens, connection events and billing lines name the seat by its
number and nothing else (no name: a client's name lives in the room's memory
only, see ``room.py``).

Group psychotherapy by video is allowed in Germany for up to nine people: eight
patients or relatives and one therapist (no co-therapy by video). That is the
limit here, enforced when a session is made.

Pure: no I/O.
"""

from __future__ import annotations

from .errors import TooManySeats
from .protocol import MAX_SEAT, Role
from .protocol import ROLE_SEAT as ROLE_SEAT  # a seat field's default: see ``of``

THERAPIST = 0
"""The therapist's seat number."""
FIRST_CLIENT = 1
"""The first client seat: the only one of a one-to-one session."""
MAX_CLIENTS = MAX_SEAT
MAX_MEMBERS = 1 + MAX_CLIENTS
"""People in one call at most: eight clients and one therapist."""


def role_of(seat: int) -> Role:
    return Role.THERAPIST if seat == THERAPIST else Role.CLIENT


def of(role: Role, seat: int = ROLE_SEAT) -> int:
    """``seat`` checked against ``role`` (``ValueError`` when they disagree), or with
    ``ROLE_SEAT`` the role's seat in a one-to-one session."""
    if seat == ROLE_SEAT:
        return THERAPIST if role is Role.THERAPIST else FIRST_CLIENT
    if role_of(seat) is not role or not THERAPIST <= seat <= MAX_CLIENTS:
        raise ValueError(f"{role.value} cannot hold seat {seat}")
    return seat


def all_seats(count: int) -> range:
    """The therapist's seat and ``count`` client seats, in order."""
    return range(THERAPIST, FIRST_CLIENT + count)


def client_seats(count: int) -> range:
    return range(FIRST_CLIENT, FIRST_CLIENT + count)


def check_count(count: int) -> int:
    """``count`` client seats when it is allowed (1 to ``MAX_CLIENTS``)."""
    if not FIRST_CLIENT <= count <= MAX_CLIENTS:
        raise TooManySeats(f"{count} client seats")
    return count
