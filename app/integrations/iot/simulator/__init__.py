"""Device simulator: scooters and e-bikes speaking the real wire protocols over TCP.

``start_device_simulator`` runs a simulated fleet inside an existing event loop (tests,
demos); ``main`` is the ``python main.py iot-simulator`` command line.
"""

from app.integrations.iot.simulator.cli import main
from app.integrations.iot.simulator.device import SimDevice, SimDeviceSpec
from app.integrations.iot.simulator.fleet import (
    RunningDeviceSim,
    default_fleet,
    imei_for,
    start_device_simulator,
)

__all__ = [
    "RunningDeviceSim",
    "SimDevice",
    "SimDeviceSpec",
    "default_fleet",
    "imei_for",
    "main",
    "start_device_simulator",
]
