"""zones: zone, zone_presence, zone_event

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:30:00.000000

Issue #19: service areas, parking, no-parking and slow zones as polygons (``zone``), which
zones each vehicle is in now (``zone_presence``, so a restart keeps it) and each enter or
exit (``zone_event``). The lead re-chains this after 0009 at merge.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.orm

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ring", sa.Text(), nullable=False),
        sa.Column("created_at", app.models.orm.UtcDateTime(), nullable=False),
        sa.Column("updated_at", app.models.orm.UtcDateTime(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
    )
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_zone_kind"), ["kind"], unique=False)
    op.create_table(
        "zone_presence",
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("zone_ids", sa.JSON(), nullable=False),
        sa.Column("checked_at", app.models.orm.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicle.id"],
            name=op.f("fk_zone_presence_vehicle_id_vehicle"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("vehicle_id", name=op.f("pk_zone_presence")),
    )
    op.create_table(
        "zone_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=8), nullable=False),
        sa.Column("at", app.models.orm.UtcDateTime(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicle.id"],
            name=op.f("fk_zone_event_vehicle_id_vehicle"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_zone_event_zone_id_zone"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_event")),
    )
    with op.batch_alter_table("zone_event", schema=None) as batch_op:
        batch_op.create_index("ix_zone_event_vehicle_at", ["vehicle_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_zone_event_zone_id"), ["zone_id"], unique=False)


def downgrade() -> None:
    op.drop_table("zone_event")
    op.drop_table("zone_presence")
    op.drop_table("zone")
