"""Seats: a session has one to eight client seats, each with its own link and billing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

``sessions.seats`` is the number of client seats (every session so far has
one). Tokens, events and billing lines name the seat they belong to: 0 is the
therapist's, 1 to 8 the clients'. Existing rows belong to the only seats there
were: the therapist's (0) and the one client's (1), told apart by ``role``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SEATED = ("tokens", "events")


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("seats", sa.Integer(), nullable=False, server_default="1"))
    for table in _SEATED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("seat", sa.Integer(), nullable=False, server_default="1"))
        # ``table`` is one of the two names above, never input.
        op.execute(sa.text(f"UPDATE {table} SET seat = 0 WHERE role = 'therapist'"))  # noqa: S608
    with op.batch_alter_table("billing_lines") as batch:
        batch.add_column(sa.Column("seat", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    # Without the column the events and lines of a second seat would read as the
    # first seat's and bill it twice: only a database without groups goes back.
    bind = op.get_bind()
    for table in (*_SEATED, "billing_lines"):
        found = sa.text(f"SELECT 1 FROM {table} WHERE seat > 1 LIMIT 1")  # noqa: S608
        if bind.execute(found).first():
            raise RuntimeError(
                f"{table} holds rows of group sessions (seat > 1): revision 0004 cannot "
                "tell their seats apart; delete those sessions first"
            )
    with op.batch_alter_table("billing_lines") as batch:
        batch.drop_column("seat")
    for table in reversed(_SEATED):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seat")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("seats")
