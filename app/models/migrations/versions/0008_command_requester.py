"""command: the requesting database login, written by a trigger

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:00:00.000000

Issue #18: who asked for a command must come from the database session, not from
anything a client writes. The column exists on both backends; on PostgreSQL the trigger
``fleet_command_guard`` fills it from ``session_user`` (see app/models/roles.py, which
``roles init`` re-installs). SQLite is single-user and keeps it NULL. Rows written before
this revision have no requester; the collector refuses to execute such a request.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.roles import COMMAND_GUARD, install_trigger, remove_trigger

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requester", sa.String(length=64), nullable=True))
    install_trigger(op.get_bind(), COMMAND_GUARD)


def downgrade() -> None:
    remove_trigger(op.get_bind(), COMMAND_GUARD)
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.drop_column("requester")
