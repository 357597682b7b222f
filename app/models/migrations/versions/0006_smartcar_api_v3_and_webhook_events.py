"""smartcar_connection: API version, webhook subscription; webhook_event: seen event ids

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 18:53:06.760005

Smartcar API V3 (issue #16): a connection speaks v2.0 (a stored token pair) or V3 (only
the Smartcar user id; the application token is the process's own). Existing rows are
v2.0. Webhook deliveries are deduplicated on their event id, kept in ``webhook_event``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_event",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("smartcar_vehicle_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_webhook_event")),
    )
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_event_received_at"), ["received_at"], unique=False
        )
    with op.batch_alter_table("smartcar_connection", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("api_version", sa.String(length=8), server_default="2.0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("webhook_state", sa.String(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("webhook_error", sa.Text(), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("last_delivery_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("smartcar_connection", schema=None) as batch_op:
        batch_op.drop_column("last_delivery_at")
        batch_op.drop_column("webhook_error")
        batch_op.drop_column("webhook_state")
        batch_op.drop_column("api_version")
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_event_received_at"))
    op.drop_table("webhook_event")
