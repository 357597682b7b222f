"""The IoT panel's Lock/Unlock obey the same operator preconditions as the car commands."""

from dataclasses import dataclass, field

import pytest

from app.listeners import Listeners
from app.services.rentals.service import ReasonRequired, RentalService
from tests.gui.test_rentals_views import report
from tests.helpers.dialog_fakes import answering
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


@dataclass
class FakeIotCommands:
    """Stands in for the running gateway's command service: records what would be sent."""

    sent: list[tuple[int, str, str]] = field(default_factory=list)
    latest: dict = field(default_factory=dict)
    events: Listeners = field(default_factory=lambda: Listeners("fake IoT commands"))

    def allowed_actions(self, _vehicle_id: int) -> tuple[str, ...]:
        return ("lock", "unlock", "locate")

    async def send(self, vehicle_id: int, action: str, *, reason: str = "") -> None:
        self.sent.append((vehicle_id, action, reason))


class FakeFrames:
    def entries(self, _device_id: str) -> list:
        return []

    added = Listeners("fake frame log")


class FakeIngest:
    frames = FakeFrames()

    def heard(self, _device_id: str) -> None:
        return None


@dataclass
class FakeRuntime:
    """The parts of a running IoT side the device panel reads."""

    commands: FakeIotCommands = field(default_factory=FakeIotCommands)
    ingest: FakeIngest = field(default_factory=FakeIngest)

    def serial_reader(self, _device_id: str) -> None:
        return None

    def link_state(self, _device_id: str, _protocol: str | None, _now: object) -> str:
        return "Online"


async def test_a_moving_scooter_is_not_unlocked_and_nothing_is_sent(window, context):
    runtime = FakeRuntime()
    panel = window.iot.panel
    scooter = next(r for r in window.model.rows if r.connection_type == "iot")
    report(context, scooter.id, speed=18.0, locked=True)
    panel._runtime = lambda: runtime
    window.select_vehicle(scooter.id)
    await panel.command("unlock")
    assert "moving (18 km/h)" in panel.outcome.text()
    assert runtime.commands.sent == []
    report(context, scooter.id, speed=0.0, locked=True)
    await panel.command("unlock")
    assert runtime.commands.sent == [(scooter.id, "unlock", "")]


async def test_a_scooter_in_a_rental_needs_a_reason(window, context, monkeypatch):
    runtime = FakeRuntime()
    panel = window.iot.panel
    scooter = next(r for r in window.model.rows if r.connection_type == "iot")
    panel._runtime = lambda: runtime
    window.select_vehicle(scooter.id)
    monkeypatch.setattr(
        RentalService, "command_refusal", _in_rental, raising=True
    )  # the rental lookup itself is covered by the rental tests
    asked: list[str] = []
    panel.prompt = answering("", asked)
    await panel.command("lock")
    assert asked and "rental #7" in asked[0]
    assert "cancelled: no reason given" in panel.outcome.text()
    assert runtime.commands.sent == []
    panel.prompt = answering("customer called: left unlocked")
    await panel.command("lock")
    await until(lambda: runtime.commands.sent, what="the command sent with its reason")
    assert runtime.commands.sent == [(scooter.id, "lock", "customer called: left unlocked")]


async def _in_rental(_self, _vehicle_id: int, _action: str, reason: str = "") -> str | None:
    if not reason.strip():
        raise ReasonRequired("The vehicle is in rental #7 (no customer reference); give a reason.")
    return None
