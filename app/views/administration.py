"""The Administration window: the people of a shared database and their roles.

Administrators add a person (login, role, password typed twice), change a role, and
revoke a person (confirmed first: their next action anywhere is refused). The database
decides whether the caller may (``fleet_admin``) and keeps its rules, e.g. the last
administrator stays; its refusals are shown under the list in its own words.
"""

from __future__ import annotations

from collections.abc import Awaitable

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from app.models.errors import DatabaseError
from app.models.people import Person
from app.models.roles import PEOPLE_ROLES, title_of
from app.services.people import PeopleService
from app.views.dialogs import Confirm, ask, run_dialog
from app.views.lifetime import gone
from app.views.ops_tables import fill, make_table

HEADERS = ["Login", "Role", "Signing in", "Valid until"]


def _valid_until(person: Person) -> str:
    return "no expiry" if person.valid_until is None else f"{person.valid_until:%Y-%m-%d %H:%M}"


class PersonDialog(QDialog):
    """Add a person (login, role, password twice) or change one's role (role only)."""

    def __init__(self, parent: QWidget | None, *, login: str = "", role: str = "viewer") -> None:
        super().__init__(parent)
        self.setObjectName("personDialog")
        adding = not login
        self.setWindowTitle("Add person" if adding else f"Change the role of {login}")
        self.login = QLineEdit(login)
        self.login.setObjectName("personLogin")
        self.login.setReadOnly(not adding)
        self.role = QComboBox()
        self.role.setObjectName("personRole")
        for key in PEOPLE_ROLES:
            self.role.addItem(title_of(key), key)
        self.role.setCurrentIndex(list(PEOPLE_ROLES).index(role))
        self.password = QLineEdit()
        self.password.setObjectName("personPassword")
        self.again = QLineEdit()
        self.again.setObjectName("personPasswordAgain")
        for field in (self.password, self.again):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        self.problem = QLabel("")
        self.problem.setObjectName("personProblem")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._check)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Login", self.login)
        form.addRow("Role", self.role)
        if adding:
            form.addRow("Password", self.password)
            form.addRow("Password again", self.again)
        form.addRow(self.problem)
        form.addRow(self.buttons)
        self._adding = adding

    def chosen_role(self) -> str:
        return str(self.role.currentData())

    def _check(self) -> None:
        """Refuse in the dialog what the database would refuse less clearly."""
        login = self.login.text().strip()
        if self._adding:
            if not login or not login.replace("_", "").replace(".", "").isalnum():
                self.problem.setText("A login is letters, digits, '_' and '.' only")
                return
            if len(self.password.text()) < 8:
                self.problem.setText("The password needs at least 8 characters")
                return
            if self.password.text() != self.again.text():
                self.problem.setText("The two passwords differ")
                return
        self.accept()


class AdministrationWindow(QWidget):
    def __init__(
        self, people: PeopleService, confirm: Confirm = ask, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("administration")
        self.setWindowTitle("Administration: people and roles")
        self._people = people
        self._confirm = confirm
        self.rows: list[Person] = []
        self.table = make_table(HEADERS, "peopleTable")
        self.add_button = QPushButton("Add person…")
        self.role_button = QPushButton("Change role…")
        self.revoke_button = QPushButton("Revoke…")
        self.add_button.clicked.connect(lambda: self.add())
        self.role_button.clicked.connect(lambda: self.change_role())
        self.revoke_button.clicked.connect(lambda: self.revoke())
        self.message = QLabel("")
        self.message.setObjectName("administrationMessage")
        self.message.setWordWrap(True)
        bar = QHBoxLayout()
        for button in (self.add_button, self.role_button, self.revoke_button):
            bar.addWidget(button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        layout.addWidget(self.message)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        people.changes.subscribe(self.reload)
        self._update_buttons()

    def selected(self) -> Person | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def _update_buttons(self) -> None:
        chosen = self.selected()
        self.role_button.setEnabled(chosen is not None)
        self.revoke_button.setEnabled(chosen is not None and chosen.can_sign_in)

    @asyncSlot()
    async def reload(self) -> None:
        try:
            people = await self._people.list()
        except DatabaseError as exc:
            self.message.setText(f"Cannot list people: {exc}")
            return
        if gone(self):
            return
        self.rows = people
        fill(
            self.table,
            [
                (
                    i,
                    [
                        p.login,
                        title_of(p.role) if p.role else "revoked",
                        "allowed" if p.can_sign_in else "not allowed",
                        _valid_until(p),
                    ],
                )
                for i, p in enumerate(people)
            ],
        )
        self._update_buttons()

    async def _apply(self, done: str, change: Awaitable[None]) -> None:
        try:
            await change
        except DatabaseError as exc:  # the database's rule, in its words
            self.message.setText(f"Not changed: {exc}")
            return
        self.message.setText(done)

    @asyncSlot()
    async def add(self) -> None:
        dialog = PersonDialog(self)
        accepted = await run_dialog(dialog) == QDialog.DialogCode.Accepted
        login, role, password = dialog.login.text().strip(), dialog.chosen_role(), ""
        if accepted:
            password = dialog.password.text()
        dialog.password.clear()
        dialog.again.clear()
        dialog.deleteLater()
        if accepted:
            await self._apply(
                f"{login} added as {title_of(role)}", self._people.add(login, role, password)
            )

    @asyncSlot()
    async def change_role(self) -> None:
        person = self.selected()
        if person is None:
            return
        dialog = PersonDialog(self, login=person.login, role=person.role or "viewer")
        accepted = await run_dialog(dialog) == QDialog.DialogCode.Accepted
        role = dialog.chosen_role()
        dialog.deleteLater()
        if accepted:
            await self._apply(
                f"{person.login} is now {title_of(role)}",
                self._people.set_role(person.login, role),
            )

    @asyncSlot()
    async def revoke(self) -> None:
        person = self.selected()
        if person is None:
            return
        question = (
            f"Revoke {person.login}?\n\nThey can no longer sign in, their next action in a "
            "console already open is refused, and a command they queued is not executed. "
            "Change role gives them a role back."
        )
        if not await self._confirm(self, "Revoke person", question):
            return
        await self._apply(f"{person.login} revoked", self._people.revoke(person.login))
