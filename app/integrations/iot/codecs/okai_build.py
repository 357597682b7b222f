"""The device side of the OKAI ZK dialect: the GTFRI report a simulated scooter sends.

Built in the layout ``okai.decode`` reads (``okai.NOT_PUBLIC`` says which parts of it are
ours), so the simulator and the decoder agree by construction. Heartbeats, command
answers and AT-command parsing are Queclink's and come from the gl200 module.
"""

from __future__ import annotations

from datetime import UTC, datetime

SIM_VERSION = "OK0100"  # a protocol version of the simulator's own, not a real firmware's


def build_position_frame(
    imei: str,
    lat: float,
    lon: float,
    speed_kmh: float,
    course: float,
    battery_pct: float,
    locked: bool,
    charging: bool,
    when: datetime,
    *,
    count: int = 0,
    buffered: bool = False,
    vin: str = "",
    qr_code: str = "",
) -> bytes:
    """A ``+RESP:GTFRI`` (``+BUFF:`` if ``buffered``) with one fix, ECU lock and charging."""
    if not (len(imei) == 15 and imei.isdigit()):
        raise ValueError(f"an OKAI device id is a 15-digit IMEI, not {imei!r}")
    stamp = when.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    fields = [
        "+BUFF:GTFRI" if buffered else "+RESP:GTFRI",
        SIM_VERSION,
        imei,
        "sim",
        vin,
        qr_code,
        "1",
        "0.8",
        f"{speed_kmh:.1f}",
        f"{round(course) % 360}",
        "35.0",
        f"{lon:.6f}",
        f"{lat:.6f}",
        stamp,
        "0262",
        "0001",
        "1932",
        "1BA4",
        "24",  # CSQ
        "4G",
        "1" if speed_kmh > 0 else "0",  # motion state
        "0",  # on main power
        "42.0",
        "3.9",
        "95",
        "0" if locked else "1",  # alive: riding enabled
        "1" if locked else "0",  # ECU lock state
        "1" if charging else "0",
        f"{round(max(0.0, min(battery_pct, 100.0)))}",
        stamp,
        f"{count & 0xFFFF:04X}",
    ]
    return (",".join(fields) + "$").encode("ascii")
