"""unknown_device: the hint for a device on another protocol's port

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00.000000

Issue #17 item 6: a device that connects to the wrong port is recognised from its first
bytes and listed in Unknown Devices with what is wrong ("looks like GT06 on the Teltonika
port (5027): ..."). Existing rows have no hint ("").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("unknown_device", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hint", sa.String(length=200), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("unknown_device", schema=None) as batch_op:
        batch_op.drop_column("hint")
