"""smartcar_connection.has_tokens; connect_request: Connect handed to the collector

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:30:00.000000

Issue #18: people's roles may not read the token columns, so whether a v2.0 connection
holds a token pair is kept apart in ``has_tokens`` (backfilled from the stored pairs),
and a shared-mode console, which holds no Smartcar secret, queues its Connect and
Disconnect in ``connect_request`` for the collector. On PostgreSQL the trigger
``fleet_connect_request_guard`` (app/models/roles.py, re-installed by ``roles init``)
writes the requester from ``session_user``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.roles import CONNECT_REQUEST_GUARD, install_trigger, remove_trigger

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("smartcar_connection", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("has_tokens", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        "UPDATE smartcar_connection SET has_tokens = "
        "(access_token_enc IS NOT NULL AND refresh_token_enc IS NOT NULL)"
    )
    op.create_table(
        "connect_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("api_version", sa.String(length=8), nullable=False),
        sa.Column("smartcar_user_id", sa.String(length=64), nullable=True),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("connection_id", sa.Integer(), nullable=True),
        sa.Column("requester", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicle.id"], name=op.f("fk_connect_request_vehicle_id_vehicle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_request")),
    )
    with op.batch_alter_table("connect_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connect_request_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_connect_request_vehicle_id"), ["vehicle_id"], unique=False
        )
    install_trigger(op.get_bind(), CONNECT_REQUEST_GUARD)


def downgrade() -> None:
    remove_trigger(op.get_bind(), CONNECT_REQUEST_GUARD)
    with op.batch_alter_table("connect_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connect_request_vehicle_id"))
        batch_op.drop_index(batch_op.f("ix_connect_request_created_at"))
    op.drop_table("connect_request")
    with op.batch_alter_table("smartcar_connection", schema=None) as batch_op:
        batch_op.drop_column("has_tokens")
