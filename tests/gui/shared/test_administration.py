"""The Administration window (issue #18 item 2): an administrator adds a person, changes
their role and revokes them; the database's own rules (the last administrator stays)
come back as a message; anyone else finds the window disabled with the reason."""

from __future__ import annotations

import os

import psycopg
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from app.config import Settings
from app.models.database import Database
from app.models.vehicles import VehicleFields, VehicleRepository
from app.paths import resolve_paths
from app.services.wiring.bootstrap import open_context
from app.views.administration import AdministrationWindow, PersonDialog
from app.views.main_window import MainWindow
from tests.helpers.people import person
from tests.helpers.waiting import until


def _fleet(url: str) -> None:
    with Database(url) as db:
        db.migrate()
        VehicleRepository(db).add(VehicleFields(name="Focus", fleet_number="F-1", kind="car"))


async def _dialog() -> PersonDialog:
    found: list[PersonDialog] = []

    def up() -> bool:
        found[:] = [w for w in QApplication.topLevelWidgets() if isinstance(w, PersonDialog)]
        return bool(found) and found[0].isVisible()

    await until(up, what="the person dialog")
    return found[0]


def _select(window: AdministrationWindow, login: str) -> None:
    window.table.selectRow(next(i for i, p in enumerate(window.rows) if p.login == login))


async def test_an_administrator_adds_changes_and_revokes_a_person(
    qtbot, tmp_path, postgres, pg_url, confirmations
):
    _fleet(pg_url)
    newcomer = f"n{os.getpid()}_carol"
    with person(postgres, pg_url, "admin") as (admin, url):
        context = open_context(Settings(), resolve_paths(tmp_path / "c").ensure(), db_url=url)
        window = MainWindow(context, confirm=confirmations)
        qtbot.addWidget(window)
        try:
            assert window.operations.actions["administration"].isEnabled()
            people = window.operations.show_administration()
            assert people is not None
            await until(lambda: any(p.login == admin for p in people.rows), what="the list")
            listed = {p.login for p in people.rows}
            assert "postgres" not in listed and "fleet_accounts" not in listed  # not people

            adding = people.add()
            dialog = await _dialog()
            dialog.login.setText(newcomer)
            dialog.role.setCurrentIndex(dialog.role.findData("dispatcher"))
            dialog.password.setText("correct horse")
            dialog.again.setText("correct horse")
            dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
            await adding
            assert people.message.text() == f"{newcomer} added as Dispatcher"
            await until(lambda: any(p.login == newcomer for p in people.rows), what="carol")
            carol = next(p for p in people.rows if p.login == newcomer)
            assert (carol.role, carol.can_sign_in) == ("dispatcher", True)

            _select(people, newcomer)
            changing = people.change_role()
            dialog = await _dialog()
            assert dialog.login.isReadOnly()
            dialog.role.setCurrentIndex(dialog.role.findData("manager"))
            dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
            await changing
            await until(
                lambda: next(p for p in people.rows if p.login == newcomer).role == "manager",
                what="carol as manager",
            )

            confirmations.answer = True
            _select(people, newcomer)
            await people.revoke()
            assert confirmations.asked[-1].startswith(f"Revoke person: Revoke {newcomer}?")
            await until(
                lambda: not next(p for p in people.rows if p.login == newcomer).can_sign_in,
                what="carol revoked",
            )

            _select(people, admin)
            await people.revoke()
            assert "last administrator" in people.message.text()
            assert people.message.text().startswith("Not changed: ")
        finally:
            window.close()
            context.close()
            with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
                conn.execute(f'DROP ROLE IF EXISTS "{newcomer}"')


async def test_a_dispatcher_finds_administration_disabled_with_the_reason(
    qtbot, tmp_path, postgres, pg_url
):
    _fleet(pg_url)
    with person(postgres, pg_url, "dispatcher") as (login, url):
        context = open_context(Settings(), resolve_paths(tmp_path / "c").ensure(), db_url=url)
        window = MainWindow(context)
        qtbot.addWidget(window)
        try:
            action = window.operations.actions["administration"]
            assert not action.isEnabled()
            assert action.toolTip() == (
                f"{login} is signed in as Dispatcher: managing people needs the Administrator role"
            )
            assert window.operations.show_administration() is None
        finally:
            window.close()
            context.close()
