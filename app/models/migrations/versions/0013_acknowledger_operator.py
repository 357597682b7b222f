"""alert acknowledger and rental operator: the database records who, from the login

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 21:30:00.000000

On a shared database a console named the person acknowledging an alert or opening a
rental itself (its user@host). The two row triggers write the session's login instead
(PostgreSQL with Fleet Console's roles; nothing on SQLite), as the command, connect
request and field task triggers already do.
"""

from collections.abc import Sequence

from alembic import op

from app.models.roles import ALERT_ACKNOWLEDGER, RENTAL_OPERATOR, install_trigger, remove_trigger

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGERS = (ALERT_ACKNOWLEDGER, RENTAL_OPERATOR)


def upgrade() -> None:
    for trigger in TRIGGERS:
        install_trigger(op.get_bind(), trigger)


def downgrade() -> None:
    for trigger in TRIGGERS:
        remove_trigger(op.get_bind(), trigger)
