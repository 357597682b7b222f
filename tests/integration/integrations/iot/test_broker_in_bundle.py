"""The demo's MQTT broker starts inside a frozen bundle too, where the executable is the
console itself and ``python -m`` does not exist (found: ``make package``'s smoke test
timed out waiting for the IoT gateway, the broker child having started the console)."""

from __future__ import annotations

import socket
import stat
import sys
from pathlib import Path

from app.integrations.iot.mqtt.broker import BrokerProcess, broker_command

ROOT = Path(__file__).resolve().parents[4]


def test_a_bundle_starts_the_broker_through_the_consoles_own_tool(tmp_path, monkeypatch):
    bundle = tmp_path / "fleet-console"  # stands in for the PyInstaller executable
    bundle.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "main.py"}" "$@"\n')
    bundle.chmod(bundle.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle))
    assert broker_command() == [str(bundle), "mqtt-broker"]
    broker = BrokerProcess()
    broker.start()
    try:
        assert broker.running
        with socket.create_connection((broker.host, broker.port), timeout=5):
            pass  # it serves MQTT's port
    finally:
        broker.stop()
    assert not broker.running
