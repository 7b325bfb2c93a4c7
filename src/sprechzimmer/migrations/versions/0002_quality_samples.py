"""Anonymous quality samples: random call id, hour, measurements; no link to a session.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sprechzimmer.store import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No primary key and no foreign key, on purpose (see store.py).
    op.create_table(
        "quality_samples",
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("bucket", UTCDateTime(), nullable=False),
        sa.Column("bitrate_out_kbps", sa.Float(), nullable=True),
        sa.Column("bitrate_in_kbps", sa.Float(), nullable=True),
        sa.Column("loss_pct", sa.Float(), nullable=True),
        sa.Column("rtt_ms", sa.Float(), nullable=True),
        sa.Column("jitter_ms", sa.Float(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("local_candidate", sa.String(8), nullable=False),
        sa.Column("remote_candidate", sa.String(8), nullable=False),
        sa.Column("errors", sa.String(256), nullable=False),
    )
    op.create_index("ix_quality_samples_bucket", "quality_samples", ["bucket"])


def downgrade() -> None:
    op.drop_index("ix_quality_samples_bucket", table_name="quality_samples")
    op.drop_table("quality_samples")
