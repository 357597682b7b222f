"""field_task and maintenance_plan: work for the street, and when a vehicle is due service

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:00:00.000000

Issue #19 items 2 and 3. A partial unique index keeps one open task of a kind per vehicle
(the rules check first, but two runs can both pass the check). On PostgreSQL a trigger
writes ``created_by`` from session_user, whatever the client sent (as the command guard
does for ``command.requester``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.roles import TASK_CREATOR, install_trigger, remove_trigger

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: a migration must keep meaning what it meant when it was written.
OPEN_TASK_SQL = "state IN ('open', 'assigned', 'in_progress')"


def upgrade() -> None:
    op.create_table(
        "field_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("assignee", sa.String(length=80), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicle.id"], name=op.f("fk_field_task_vehicle_id_vehicle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_task")),
    )
    op.create_index(op.f("ix_field_task_vehicle_id"), "field_task", ["vehicle_id"])
    op.create_index(op.f("ix_field_task_state"), "field_task", ["state"])
    op.create_index(
        "uq_field_task_open_kind",
        "field_task",
        ["vehicle_id", "kind"],
        unique=True,
        sqlite_where=sa.text(OPEN_TASK_SQL),
        postgresql_where=sa.text(OPEN_TASK_SQL),
    )
    op.create_table(
        "maintenance_plan",
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("every_km", sa.Float(), nullable=True),
        sa.Column("every_months", sa.Integer(), nullable=True),
        sa.Column("last_service_km", sa.Float(), nullable=True),
        sa.Column("last_service_at", sa.DateTime(), nullable=True),
        sa.Column("oil_below_pct", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicle.id"],
            name=op.f("fk_maintenance_plan_vehicle_id_vehicle"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("vehicle_id", name=op.f("pk_maintenance_plan")),
    )
    install_trigger(op.get_bind(), TASK_CREATOR)


def downgrade() -> None:
    remove_trigger(op.get_bind(), TASK_CREATOR)
    op.drop_table("maintenance_plan")
    op.drop_index("uq_field_task_open_kind", table_name="field_task")
    op.drop_index(op.f("ix_field_task_state"), table_name="field_task")
    op.drop_index(op.f("ix_field_task_vehicle_id"), table_name="field_task")
    op.drop_table("field_task")
