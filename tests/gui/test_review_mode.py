"""Offline review: commands and connects are disabled, and say why."""

import pytest
from PySide6.QtWidgets import QPushButton

from app.paths import resolve_paths
from app.services.access import READ_ONLY
from app.services.wiring.bootstrap import open_context
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


@pytest.fixture
def window_context(tmp_path, context):
    """``window`` (tests/gui/conftest.py) opens on an offline review copy of ``context``."""
    copy = tmp_path / "review.sqlite"
    with context.database.engine.connect() as connection:
        connection.exec_driver_sql(f"VACUUM INTO '{copy}'")
    review = open_context(
        context.settings,
        resolve_paths(tmp_path / "review-data").ensure(),
        db_url=f"sqlite:///{copy}",
        review=True,
    )
    yield review
    review.close()


async def test_commands_and_connect_are_disabled_with_the_reason(window):
    assert not window.add_action.isEnabled()
    for kind, names in (("iot", {"Lock", "Unlock", "Locate"}), ("none", {"Connect Car"})):
        row = next(r for r in window.model.rows if r.connection_type == kind)
        window.select_vehicle(row.id)

        def shown_buttons(names=names):
            return {
                b.text(): b
                for b in window.detail.findChildren(QPushButton)
                if b.isVisible() and b.text() in names
            }

        def all_refused(names=names, shown=shown_buttons):
            buttons = shown()
            return set(buttons) == names and all(
                not b.isEnabled() and b.toolTip().startswith("Offline review")
                for b in buttons.values()
            )

        await until(all_refused, what=f"{kind} buttons disabled with the review reason")
    # Nor can alerts be acknowledged or tasks worked on (a read-only file would refuse it).
    window.operations.actions["alerts"].trigger()
    inbox = window.operations._views["alerts"]
    assert not inbox.ack_button.isEnabled() and inbox.ack_button.toolTip() == READ_ONLY
    assert not window.operations.actions["start_rental"].isEnabled()


@pytest.fixture
def stored_connection(context):
    """A car whose connection was Active (with a last error) when the file was saved."""
    from datetime import UTC, datetime

    from app.models.orm import SmartcarConnection

    car = next(r for r in context.vehicles.repository.list_rows() if r.kind == "car")
    synced = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
    with context.database.session() as session:
        session.add(
            SmartcarConnection(
                vehicle_id=car.id,
                smartcar_vehicle_id="sc-1",
                status="active",
                status_reason="Connected; data is flowing.",
                last_sync_at=synced,
                last_error="UPSTREAM:NO_RESPONSE (502)",
                last_error_at=synced,
            )
        )
    return car, synced


@pytest.fixture
def review_with_connection(stored_connection, window):
    return window, *stored_connection


async def test_review_never_claims_data_is_flowing(review_with_connection):
    window, car, synced = review_with_connection
    panel = window.connections.panel
    window.select_vehicle(car.id)
    await until(lambda: panel.record is not None, what="the stored connection")
    local = synced.astimezone().strftime("%Y-%m-%d %H:%M")
    assert panel.status.text() == f"● Offline review: last data {local}"
    assert "flowing" not in panel.reason.text() and "Active" in panel.reason.text()
    assert panel.values["last_error"].text().startswith(f"UPSTREAM:NO_RESPONSE (502) — {local}")
