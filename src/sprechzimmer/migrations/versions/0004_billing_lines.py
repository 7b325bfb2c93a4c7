"""Billing lines: what billing keeps of a session once its metadata retention is over.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Only the table is made here. Existing sessions are converted by the first purge
after the upgrade (the server purges at start-up; ``sprechzimmer purge`` does it
at once): it writes the lines of every session idle for longer than
``SPRECHZIMMER_METADATA_RETENTION_DAYS`` and deletes the session with its events.
Converting needs the practice's time zone and reconnect tolerance, which are
settings, not schema; and a migration that bills would be a second copy of the
billing rules.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapist_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapists.id"],
            name="fk_billing_lines_therapist_id_therapists",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_billing_lines"),
    )
    op.create_index("ix_billing_lines_therapist_id_day", "billing_lines", ["therapist_id", "day"])


def downgrade() -> None:
    # The lines' minutes are lost with the table: the events they came from are gone.
    op.drop_index("ix_billing_lines_therapist_id_day", table_name="billing_lines")
    op.drop_table("billing_lines")
