"""rental: at most one open rental per vehicle, enforced by a partial unique index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:30:00.000000

Before this revision two workstations starting the same vehicle at the same instant could
both open a rental (the service checks, then inserts; on PostgreSQL both checks can pass).
A database may therefore already hold two open rentals of one vehicle, and the index
cannot be built over them. Refusing to migrate would lose nothing but would keep every
workstation from starting until someone edits the database by hand, with no console to
look at the rentals. So the newest open rental of such a vehicle stays open and each older
one is closed as ``cancelled``, with a note naming its former state and the rental kept
open: no row, reading or surcharge is deleted, and the operator can reconcile from the
rental history.
"""

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger(__name__)

# Frozen here: a migration must keep meaning what it meant when it was written.
TERMINAL = ("cancelled", "check_in_expired", "completed")
OPEN_RENTAL_SQL = "state NOT IN ('cancelled', 'check_in_expired', 'completed')"

rental = sa.table(
    "rental",
    sa.column("id", sa.Integer()),
    sa.column("vehicle_id", sa.Integer()),
    sa.column("state", sa.String()),
    sa.column("ended_at", sa.DateTime()),
    sa.column("note", sa.Text()),
)


def _close_duplicate_open_rentals() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Workstations still on the old version must not open a duplicate between the
        # clean-up below and the index build (which would then fail this migration).
        op.execute("LOCK TABLE rental IN SHARE ROW EXCLUSIVE MODE")
    rows = bind.execute(
        sa.select(
            rental.c.id, rental.c.vehicle_id, rental.c.state, rental.c.ended_at, rental.c.note
        )
        .where(rental.c.state.not_in(TERMINAL))
        .order_by(rental.c.vehicle_id, rental.c.id.desc())
    ).all()
    now = datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC (orm.UtcDateTime)
    kept: dict[int, int] = {}
    for row in rows:
        newest = kept.setdefault(row.vehicle_id, row.id)
        if newest == row.id:
            continue
        line = (
            f"{now:%Y-%m-%d %H:%M:%S}Z closed as cancelled by the database upgrade (0003): "
            f"the vehicle also had rental #{newest} open; this rental was {row.state}"
        )
        bind.execute(
            rental.update()
            .where(rental.c.id == row.id)
            .values(
                state="cancelled",
                ended_at=row.ended_at or now,
                note=f"{row.note}\n{line}" if row.note else line,
            )
        )
        logger.warning(
            "rental #%s closed as cancelled: vehicle %s also had rental #%s open",
            row.id,
            row.vehicle_id,
            newest,
        )


def upgrade() -> None:
    _close_duplicate_open_rentals()
    op.create_index(
        "uq_rental_open_vehicle",
        "rental",
        ["vehicle_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_RENTAL_SQL),
        postgresql_where=sa.text(OPEN_RENTAL_SQL),
    )


def downgrade() -> None:
    op.drop_index("uq_rental_open_vehicle", table_name="rental")
