"""``main(argv)`` runs the simulator alone: port 0, printed URL, generated fleet, clean stop."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx
import pytest

from app.integrations.smartcar.simulator import main

ROOT = Path(__file__).resolve().parents[4]
SCRIPT = (
    "import sys; from app.integrations.smartcar.simulator import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.asyncio
async def test_cli_serves_generated_fleet_and_stops_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        "--port",
        "0",
        "--vehicles",
        "7",
        "--seed",
        "3",
        "--client-id",
        "cli-app",
        "--redirect-uri",
        "http://localhost/a",
        "--redirect-uri",
        "http://localhost/b",
        "--api-latency-ms",
        "250",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
        assert line.startswith("Smartcar simulator listening on http://127.0.0.1:")
        base = line.rsplit(" ", 1)[1].strip()
        async with httpx.AsyncClient(base_url=base) as http:
            fleet = (await http.get("/_sim/vehicles")).json()
            latency = (await http.get("/_sim/latency")).json()
            page = await http.get(
                "/oauth/authorize",
                params={
                    "response_type": "code",
                    "client_id": "cli-app",
                    "redirect_uri": "http://localhost/b",
                },
            )
        assert len(fleet) == 7 and page.status_code == 200
        assert latency == {"api_latency_ms": 250}
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0


def test_cli_refuses_bad_arguments() -> None:
    assert main(["--vehicles", "-1"]) == 2
    assert main(["--api-latency-ms", "-1"]) == 2
    with pytest.raises(SystemExit):
        main(["--port", "not-a-number"])


@pytest.mark.asyncio
async def test_cli_registers_a_webhook_and_names_v3_in_help() -> None:
    from tests.integration.integrations.smartcar.v3_helpers import Receiver, sign

    receiver = await Receiver(amt="cli-amt").start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        "--port",
        "0",
        "--vehicles",
        "2",
        "--management-token",
        "cli-amt",
        "--webhook-url",
        receiver.url,
        "--webhook-interval-s",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        listening = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
        assert listening.startswith("Smartcar simulator listening on http://127.0.0.1:")
        webhook = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode().split()
        assert webhook[0] == "Webhook" and webhook[2:] == ["->", receiver.url]
        [verify] = receiver.events("VERIFY")
        assert verify.headers["SC-Signature"] == sign(verify.raw, key="cli-amt")
        assert verify.body["meta"]["webhookId"] == webhook[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=30)
        await receiver.stop()
    assert proc.returncode == 0

    helped = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "simulator",
        "--help",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    text = (await asyncio.wait_for(helped.communicate(), timeout=60))[0].decode()
    for needle in (
        "--management-token",
        "SMARTCAR_SIM_MANAGEMENT_TOKEN",
        "--webhook-url",
        "--webhook-interval-s",
        "POST /oauth2/token",
        "POST /v3/webhooks",
        "POST /v3/subscriptions",
    ):
        assert needle in text, needle


@pytest.mark.asyncio
async def test_cli_exits_when_the_webhook_fails_verify() -> None:
    from tests.integration.integrations.smartcar.v3_helpers import Receiver

    receiver = await Receiver(wrong_challenge=True).start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SCRIPT,
            "--port",
            "0",
            "--webhook-url",
            receiver.url,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        await receiver.stop()
    assert proc.returncode == 2
    assert "cannot register the webhook" in out.decode()
