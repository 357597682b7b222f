"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 19:23:27.999272
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unknown_device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=80), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unknown_device")),
        sa.UniqueConstraint("device_id", "protocol", name=op.f("uq_unknown_device_device_id")),
    )
    op.create_table(
        "vehicle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("fleet_number", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("make", sa.String(length=60), nullable=False),
        sa.Column("model", sa.String(length=60), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("vin", sa.String(length=17), nullable=True),
        sa.Column("imei", sa.String(length=15), nullable=True),
        sa.Column("plate", sa.String(length=20), nullable=False),
        sa.Column("powertrain", sa.String(length=8), nullable=True),
        sa.Column("connection_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicle")),
        sa.UniqueConstraint("fleet_number", name=op.f("uq_vehicle_fleet_number")),
        sa.UniqueConstraint("imei", name=op.f("uq_vehicle_imei")),
        sa.UniqueConstraint("vin", name=op.f("uq_vehicle_vin")),
    )
    with op.batch_alter_table("vehicle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vehicle_kind"), ["kind"], unique=False)

    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=80), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicle.id"], name=op.f("fk_alert_vehicle_id_vehicle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_vehicle_id"), ["vehicle_id"], unique=False)

    op.create_table(
        "command",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor_user", sa.String(length=80), nullable=False),
        sa.Column("actor_host", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicle.id"], name=op.f("fk_command_vehicle_id_vehicle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command")),
    )
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_command_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_command_vehicle_id"), ["vehicle_id"], unique=False)

    op.create_table(
        "iot_device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(length=32), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("serial_port", sa.String(length=200), nullable=True),
        sa.Column("baud", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=80), nullable=True),
        sa.Column("firmware", sa.String(length=60), nullable=True),
        sa.Column("expected_interval_s", sa.Integer(), nullable=False),
        sa.Column("last_heard_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicle.id"], name=op.f("fk_iot_device_vehicle_id_vehicle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iot_device")),
        sa.UniqueConstraint("device_id", name=op.f("uq_iot_device_device_id")),
    )
    with op.batch_alter_table("iot_device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_iot_device_vehicle_id"), ["vehicle_id"], unique=False)

    op.create_table(
        "rental",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("operator", sa.String(length=80), nullable=False),
        sa.Column("customer_ref", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("check_in_deadline", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("start_fuel_pct", sa.Float(), nullable=True),
        sa.Column("start_charge_pct", sa.Float(), nullable=True),
        sa.Column("start_odometer_km", sa.Float(), nullable=True),
        sa.Column("start_latitude", sa.Float(), nullable=True),
        sa.Column("start_longitude", sa.Float(), nullable=True),
        sa.Column("end_fuel_pct", sa.Float(), nullable=True),
        sa.Column("end_charge_pct", sa.Float(), nullable=True),
        sa.Column("end_odometer_km", sa.Float(), nullable=True),
        sa.Column("end_latitude", sa.Float(), nullable=True),
        sa.Column("end_longitude", sa.Float(), nullable=True),
        sa.Column("surcharge_lines", sa.JSON(), nullable=True),
        sa.Column("surcharge_total", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicle.id"], name=op.f("fk_rental_vehicle_id_vehicle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rental")),
    )
    with op.batch_alter_table("rental", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rental_vehicle_id"), ["vehicle_id"], unique=False)

    op.create_table(
        "smartcar_connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("smartcar_vehicle_id", sa.String(length=64), nullable=False),
        sa.Column("smartcar_user_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("granted_scopes", sa.JSON(), nullable=False),
        sa.Column("access_token_enc", sa.LargeBinary(), nullable=True),
        sa.Column("refresh_token_enc", sa.LargeBinary(), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(), nullable=True),
        sa.Column("refresh_expires_at", sa.DateTime(), nullable=True),
        sa.Column("connected_at", sa.DateTime(), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(), nullable=True),
        sa.Column("last_command_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("budget_month", sa.String(length=7), nullable=False),
        sa.Column("requests_this_month", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicle.id"], name=op.f("fk_smartcar_connection_vehicle_id_vehicle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smartcar_connection")),
    )
    with op.batch_alter_table("smartcar_connection", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_smartcar_connection_smartcar_vehicle_id"),
            ["smartcar_vehicle_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_smartcar_connection_vehicle_id"), ["vehicle_id"], unique=False
        )

    op.create_table(
        "telemetry_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("course_deg", sa.Float(), nullable=True),
        sa.Column("fuel_pct", sa.Float(), nullable=True),
        sa.Column("battery_pct", sa.Float(), nullable=True),
        sa.Column("range_km", sa.Float(), nullable=True),
        sa.Column("odometer_km", sa.Float(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=True),
        sa.Column("doors", sa.JSON(), nullable=True),
        sa.Column("tires_kpa", sa.JSON(), nullable=True),
        sa.Column("oil_life_pct", sa.Float(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicle.id"], name=op.f("fk_telemetry_sample_vehicle_id_vehicle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telemetry_sample")),
    )
    with op.batch_alter_table("telemetry_sample", schema=None) as batch_op:
        batch_op.create_index(
            "ix_telemetry_vehicle_time", ["vehicle_id", "recorded_at"], unique=False
        )

    op.create_table(
        "vehicle_state",
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("fuel_pct", sa.Float(), nullable=True),
        sa.Column("battery_pct", sa.Float(), nullable=True),
        sa.Column("range_km", sa.Float(), nullable=True),
        sa.Column("odometer_km", sa.Float(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=True),
        sa.Column("doors", sa.JSON(), nullable=True),
        sa.Column("tires_kpa", sa.JSON(), nullable=True),
        sa.Column("oil_life_pct", sa.Float(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=True),
        sa.Column("last_heard_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicle.id"],
            name=op.f("fk_vehicle_state_vehicle_id_vehicle"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("vehicle_id", name=op.f("pk_vehicle_state")),
    )


def downgrade() -> None:
    op.drop_table("vehicle_state")
    with op.batch_alter_table("telemetry_sample", schema=None) as batch_op:
        batch_op.drop_index("ix_telemetry_vehicle_time")

    op.drop_table("telemetry_sample")
    with op.batch_alter_table("smartcar_connection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_smartcar_connection_vehicle_id"))
        batch_op.drop_index(batch_op.f("ix_smartcar_connection_smartcar_vehicle_id"))

    op.drop_table("smartcar_connection")
    with op.batch_alter_table("rental", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rental_vehicle_id"))

    op.drop_table("rental")
    with op.batch_alter_table("iot_device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_iot_device_vehicle_id"))

    op.drop_table("iot_device")
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_command_vehicle_id"))
        batch_op.drop_index(batch_op.f("ix_command_created_at"))

    op.drop_table("command")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_vehicle_id"))

    op.drop_table("alert")
    with op.batch_alter_table("vehicle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vehicle_kind"))

    op.drop_table("vehicle")
    op.drop_table("unknown_device")
