"""smartcar_connection: when the last error happened

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:00:00.000000

The connection panel shows the last error with its time, so an operator can tell a fault
from this morning from one a minute ago. Existing rows keep their error text with no time
(shown as such); the next poll records both.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("smartcar_connection", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_error_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("smartcar_connection", schema=None) as batch_op:
        batch_op.drop_column("last_error_at")
