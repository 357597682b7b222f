"""vehicle_state: course and per-value recording times for the telemetry store

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vehicle_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("course_deg", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("field_times", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vehicle_state", schema=None) as batch_op:
        batch_op.drop_column("field_times")
        batch_op.drop_column("course_deg")
