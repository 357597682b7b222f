"""Driving the Connect Car dialog's real web view through the simulator's Connect pages."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from PySide6.QtWebEngineCore import QWebEnginePage

from app.views.connect_dialog import ConnectDialog
from app.views.item_models.vehicle_table_model import Column
from app.views.main_window import MainWindow
from tests.helpers.waiting import until


async def js(page: QWebEnginePage, script: str) -> Any:
    """Run ``script`` in the real page and return its value."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def done(value: Any) -> None:
        if not future.done():
            future.set_result(value)

    page.runJavaScript(script, 0, done)
    return await asyncio.wait_for(future, 10)


async def wait_for_element(page: QWebEnginePage, element_id: str) -> None:
    """Poll the live DOM until the element exists (pages load asynchronously)."""
    found = False

    async def probe() -> None:
        nonlocal found
        found = bool(await js(page, f"document.getElementById('{element_id}') !== null"))

    for _ in range(500):
        await probe()
        if found:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"#{element_id} never appeared on the Connect page")


async def click(page: QWebEnginePage, element_id: str) -> None:
    await wait_for_element(page, element_id)
    await js(page, f"document.getElementById('{element_id}').click()")


async def log_in(page: QWebEnginePage, email: str, password: str = "pw") -> None:
    await wait_for_element(page, "email")
    await js(
        page,
        f"document.getElementById('email').value = {email!r};"
        f"document.getElementById('password').value = {password!r};"
        "document.getElementById('login').click()",
    )


async def open_connect(window: MainWindow, vehicle_id: int) -> ConnectDialog:
    """Select the vehicle, wait for its panel, press Connect Car, pass the compatibility step."""
    panel = window.connections.panel
    assert window.select_vehicle(vehicle_id)
    await until(lambda: panel.row is not None and panel.row.id == vehicle_id, what="panel row")
    await until(lambda: panel.connect_button.isEnabled(), what="Connect Car enabled")
    panel.connect_button.click()
    dialog = panel.dialog
    assert dialog is not None
    if panel.row.vin:
        await until(lambda: dialog.permissions.count() == 8, what="compatibility list")
        dialog.continue_button.click()
    await until(lambda: dialog.stage == "web", what="the Connect page")
    return dialog


async def allow(dialog: ConnectDialog, email: str, decision: str = "allow") -> None:
    await log_in(dialog.page, email)
    await click(dialog.page, decision)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cars(window: MainWindow) -> list:
    return [r for r in window.model.rows if r.kind == "car"]


def badge(window: MainWindow, vehicle_id: int) -> str:
    """The connection badge text of the vehicle's list row."""
    position = window.model.position_of(vehicle_id)
    return window.model.index(position, Column.CONNECTION).data()
