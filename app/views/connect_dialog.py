"""Connect Car: compatibility first, then Smartcar Connect in an embedded browser.

The web view has its own off-the-record profile (no cookies or logins survive the dialog).
The owner's manufacturer login happens on Smartcar's pages only; the console catches the
final redirect to the registered redirect URI from the navigation request itself, refuses
to load it, and hands the URL (code + state) to the service. It never reads the page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.models.vehicles import VehicleRow
from app.services.connections.connect_results import (
    Authorization,
    ConnectFailed,
    SmartcarCar,
    VinInUse,
    VinMismatch,
)
from app.services.connections.health import PERMISSIONS
from app.services.connections.loopback import LoopbackError, LoopbackListener
from app.services.connections.service import ConnectionService

logger = logging.getLogger(__name__)

OpenExternal = Callable[[str], object]
CANCELLED = "Connect Car was closed before it finished; nothing was changed."


class ConnectPage(QWebEnginePage):
    """Stops the navigation to the redirect URI and reports it instead."""

    redirect_caught = Signal(str)

    def __init__(
        self, profile: QWebEngineProfile, is_redirect: Callable[[str], bool], parent: QWidget
    ) -> None:
        super().__init__(profile, parent)
        self._is_redirect = is_redirect

    def acceptNavigationRequest(
        self, url: QUrl | str, type_: QWebEnginePage.NavigationType, is_main_frame: bool
    ) -> bool:
        text = url.toString() if isinstance(url, QUrl) else url
        if self._is_redirect(text):
            self.redirect_caught.emit(text)
            return False
        return super().acceptNavigationRequest(url, type_, is_main_frame)


def _open_in_browser(url: str) -> object:
    return QDesktopServices.openUrl(QUrl(url))


class ConnectDialog(QDialog):
    """Signals: connected(list): the console vehicle ids linked (this one first).

    ``stage`` says where the flow is (compatibility, web, browser, choose, working, done,
    failed, incompatible) and ``outcome`` the last message for the operator.
    """

    connected = Signal(list)

    def __init__(
        self,
        service: ConnectionService,
        vehicle: VehicleRow,
        *,
        open_external: OpenExternal = _open_in_browser,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("connectDialog")
        self.setWindowTitle(f"Connect Car — {vehicle.name} [{vehicle.fleet_number}]")
        self.resize(720, 760)
        self.service = service
        self.vehicle = vehicle
        self.open_external = open_external
        self.stage = "starting"
        self.outcome = CANCELLED
        self.auth: Authorization | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

        self.info = QLabel()
        self.info.setObjectName("connectInfo")
        self.info.setWordWrap(True)
        self.pages = QStackedWidget()
        self.permissions = QListWidget()
        self.permissions.setObjectName("compatibilityList")
        self.continue_button = QPushButton("Continue to Smartcar Connect")
        self.continue_button.setObjectName("continueConnect")
        self.continue_button.clicked.connect(lambda _c=False: self._show_web())
        self.pages.addWidget(self._column(self.permissions, self.continue_button))

        self.profile = QWebEngineProfile(self)  # no storage name: off the record
        self.view = QWebEngineView()
        self.page = ConnectPage(self.profile, service.is_redirect, self.view)
        self.view.setPage(self.page)
        self.page.redirect_caught.connect(self._on_redirect)
        self.browser_button = QPushButton("Open in system browser")
        self.browser_button.setObjectName("openInBrowser")
        self.browser_button.clicked.connect(lambda _c=False: self._spawn(self._via_browser()))
        self.pages.addWidget(self._column(self.view, self.browser_button))

        self.cars = QListWidget()
        self.cars.setObjectName("carChoice")
        self.add_others = QCheckBox("Also add the other cars of this account as new vehicles")
        self.add_others.setObjectName("addOthers")
        self.accept_vin = QCheckBox("Use Smartcar's VIN for this record (the record was wrong)")
        self.accept_vin.setObjectName("acceptVin")
        self.link_button = QPushButton("Link selected car")
        self.link_button.setObjectName("linkCar")
        self.link_button.clicked.connect(lambda _c=False: self._spawn(self._link_chosen()))
        self.pages.addWidget(
            self._column(self.cars, self.accept_vin, self.add_others, self.link_button)
        )
        self.pages.addWidget(QWidget())  # result page: the info label says it all

        self.close_button = QPushButton("Cancel")
        self.close_button.setObjectName("closeConnect")
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addWidget(self.pages, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.close_button)
        layout.addLayout(row)

    @staticmethod
    def _column(*widgets: QWidget) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in widgets:
            layout.addWidget(widget)
        return page

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _say(self, stage: str, text: str) -> None:
        self.stage = stage
        self.info.setText(text)

    # -- flow ------------------------------------------------------------------------------

    def begin(self) -> asyncio.Task[Any]:
        return self._spawn(self._compatibility() if self.vehicle.vin else self._start_web())

    async def _compatibility(self) -> None:
        vin = self.vehicle.vin or ""
        self._say("compatibility", f"Checking whether Smartcar supports VIN {vin}…")
        try:
            report = await self.service.check_compatibility(vin)
        except ConnectFailed as exc:
            self._say("compatibility", f"{exc}\nYou can still try Smartcar Connect.")
            return
        for scope, ok in report.permissions.items():
            # Not "✗": Connect still grants it (per application); the car has nothing to read.
            mark = "✓" if ok else "— this car has nothing to report (granted anyway)"
            item = QListWidgetItem(f"{PERMISSIONS[scope].label}: {mark}")
            item.setData(Qt.ItemDataRole.UserRole, (scope, ok))
            self.permissions.addItem(item)
        if not report.compatible:
            self.continue_button.setEnabled(False)
            self._fail(f"Not compatible: {report.reason}", stage="incompatible", keep_page=True)
            return
        unsupported = [PERMISSIONS[s].label for s, ok in report.permissions.items() if not ok]
        note = (
            f" This car has nothing to report for: {', '.join(unsupported)} (those "
            "permissions are still granted, e.g. Read Battery on a combustion car)."
            if unsupported
            else ""
        )
        self._say("compatibility", f"Smartcar supports this car.{note}")

    async def _start_web(self) -> None:
        self._show_web()

    def _show_web(self) -> None:
        try:
            url = self.service.begin(self.vehicle.id, self.vehicle.vin)
        except Exception as exc:  # Smartcar not configured: say so rather than crash
            self._fail(str(exc))
            return
        self.pages.setCurrentIndex(1)
        self._say(
            "web",
            "Choose the brand, log in with the owner's manufacturer account and allow access. "
            "Fleet Console never sees that login.",
        )
        self.view.load(QUrl(url))

    def _on_redirect(self, url: str) -> None:
        if self.stage in ("web", "browser"):
            self._spawn(self._complete(url))

    async def _via_browser(self) -> None:
        try:
            listener = LoopbackListener(self.service.redirect_uri or "")
            await listener.start()
        except LoopbackError as exc:
            self._say(self.stage, str(exc))
            return
        try:
            self.view.setUrl(QUrl("about:blank"))
            connect_url = self.service.begin(self.vehicle.id, self.vehicle.vin)
            listener.expect_state_of(connect_url)
            self.open_external(connect_url)
            self._say("browser", "Finish Connect in your browser; this window waits for it.")
            url = await listener.wait()
        except LoopbackError as exc:
            self._say(self.stage, str(exc))
            return
        finally:
            await listener.stop()
        await self._complete(url)

    async def _complete(self, url: str) -> None:
        if self.service.hands_off:
            await self._hand_off(url)
            return
        self._say("working", "Finishing the connection…")
        try:
            self.auth = await self.service.complete(url)
            plan = await self.service.plan(self.auth)
        except ConnectFailed as exc:
            self._fail(str(exc))
            return
        if plan.match is not None and len(self.auth.cars) == 1 and not plan.vin_conflict:
            await self._link(plan.match, accept_vin=False, others=[])
            return
        self._choose(self.auth, plan.match, plan.vin_conflict)

    async def _hand_off(self, url: str) -> None:
        """Shared database: the collector, which holds the Smartcar secret, links the car."""
        self._say("working", "The collector is linking the car…")
        try:
            record = await self.service.hand_off(url)
        except ConnectFailed as exc:
            self._fail(str(exc))
            return
        car = " ".join(str(p) for p in (record.year, record.make, record.model) if p)
        self.outcome = (
            f"Connected {car or record.vehicle_name} — VIN {record.vin or 'unknown'}. "
            f"Status: {record.status.capitalize()}."
        )
        self._say("done", self.outcome)
        self.connected.emit([record.vehicle_id])
        self.accept()

    def _choose(self, auth: Authorization, match: SmartcarCar | None, conflict: bool) -> None:
        self.cars.clear()
        for car in auth.cars:
            item = QListWidgetItem(car.label)
            item.setData(Qt.ItemDataRole.UserRole, car.smartcar_id)
            self.cars.addItem(item)
            if car is match:
                self.cars.setCurrentItem(item)
        self.add_others.setVisible(len(auth.cars) > 1)
        self.accept_vin.setVisible(conflict)
        self.pages.setCurrentIndex(2)
        if conflict and match is not None:
            text = (
                f"The record's VIN is {self.vehicle.vin}, but the car Smartcar returned has VIN "
                f"{match.vin}. Check the car; tick the box only if the record is wrong."
            )
        else:
            text = "This account has several cars. Select the one that is this vehicle."
        self._say("choose", text)

    async def _link_chosen(self) -> None:
        auth, item = self.auth, self.cars.currentItem()
        if auth is None or item is None:
            return
        car = next(c for c in auth.cars if c.smartcar_id == item.data(Qt.ItemDataRole.UserRole))
        others = [c for c in auth.cars if c is not car] if self.add_others.isChecked() else []
        await self._link(car, accept_vin=self.accept_vin.isChecked(), others=others)

    async def _link(self, car: SmartcarCar, *, accept_vin: bool, others: list[SmartcarCar]) -> None:
        assert self.auth is not None
        self._say("working", f"Linking {car.label}…")
        try:
            record = await self.service.link(self.auth, car, accept_vin=accept_vin)
            linked = [record.vehicle_id]
            if others:
                linked += await self.service.add_as_new_vehicles(self.auth, others)
        except VinMismatch as exc:
            self._choose(self.auth, car, conflict=True)
            self._say("choose", f"{exc} Tick the box to use Smartcar's VIN, or cancel.")
            return
        except (VinInUse, ConnectFailed) as exc:
            self._fail(str(exc))
            return
        added = f" and {len(linked) - 1} more car(s)" if len(linked) > 1 else ""
        self.outcome = f"Connected {car.label}{added}. Status: {record.status.capitalize()}."
        self._say("done", self.outcome)
        self.connected.emit(linked)
        self.accept()

    def _fail(self, text: str, *, stage: str = "failed", keep_page: bool = False) -> None:
        self.outcome = f"{text} Nothing was changed."
        if not keep_page:
            self.pages.setCurrentIndex(3)
        self.close_button.setText("Close")
        self._say(stage, self.outcome)

    # -- closing ---------------------------------------------------------------------------

    def done(self, result: int) -> None:
        """Stop the flow and free the web page before its off-the-record profile."""
        for task in list(self._tasks):
            task.cancel()
        self.page.redirect_caught.disconnect(self._on_redirect)
        self.view.stop()
        self.page.deleteLater()
        self.profile.deleteLater()
        super().done(result)
