"""The sign-in prompt a shared-mode console shows when the server wants a password."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLineEdit

from app.views.sign_in import SignInDialog, ask_password


def test_the_prompt_names_the_login_and_the_problem_and_hides_what_is_typed(qtbot):
    dialog = SignInDialog("bob", "db.example/fleet refused the password")
    qtbot.addWidget(dialog)
    assert dialog.login.text() == "bob"
    assert dialog.problem.text() == "db.example/fleet refused the password"
    assert dialog.password.echoMode() is QLineEdit.EchoMode.Password


def _answer(password: str | None) -> None:
    """Type into the prompt once it is up (it runs its own modal loop, as before the
    console's event loop starts), then sign in or cancel."""

    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SignInDialog):
            QTimer.singleShot(10, act)
            return
        if password is None:
            dialog.reject()
        else:
            dialog.password.setText(password)
            dialog.accept()

    QTimer.singleShot(0, act)


def test_ask_password_returns_what_was_typed_or_none_when_cancelled(qtbot):
    _answer("s3cret")
    assert ask_password("bob", "needs a password") == "s3cret"
    _answer(None)
    assert ask_password("bob", "needs a password") is None
