"""telemetry_sample, vehicle_state: whether the vehicle is charging

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:30:00.000000

The Charging status (issue #13 item 5) follows what the vehicle reports: a Smartcar EV's
charge state, an IoT device's charge bit. Existing rows have no such reading (NULL:
unknown), which never makes a vehicle Charging.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("telemetry_sample", "vehicle_state")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("charging", sa.Boolean(), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("charging")
