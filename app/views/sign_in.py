"""The password prompt of a shared-mode console, where ``~/.pgpass``, a service file or
PGPASSWORD gave none (or a wrong one): psql's convention, in a window.

Asked before the event loop runs (``main.py``), so the modal ``exec()`` nests no loop and
no coroutine waits behind it. The password goes to the database connection only: never
to a log, a setting or a file.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)


class SignInDialog(QDialog):
    def __init__(self, login: str, problem: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("signInDialog")
        self.setWindowTitle("Fleet Console: sign in")
        self.problem = QLabel(problem)
        self.problem.setObjectName("signInProblem")
        self.problem.setWordWrap(True)
        self.login = QLabel(login or "(your PostgreSQL login)")
        self.password = QLineEdit()
        self.password.setObjectName("signInPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Sign in")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(self.problem)
        form.addRow("Login", self.login)
        form.addRow("Password", self.password)
        form.addRow(buttons)
        self.setMinimumWidth(480)


def ask_password(login: str, problem: str) -> str | None:
    """The password typed, or None if the person cancelled (the console then stops)."""
    dialog = SignInDialog(login, problem)
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    password = dialog.password.text()
    dialog.password.clear()
    dialog.deleteLater()
    return password if accepted else None
