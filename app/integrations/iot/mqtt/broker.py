"""A local MQTT broker as a separate process: amqtt, for the demo and the tests.

Production points the console at its own broker (mosquitto, EMQX, flespi's; README).
The demo and the tests need one on a machine that has only what ``pip`` installed, so
this runs amqtt (a pure-Python MQTT 3.1.1 broker) in a child process of its own:
``python -m app.integrations.iot.mqtt.broker PORT`` listens on 127.0.0.1:PORT, anonymous,
until SIGTERM. A separate process, not a task on the console's loop, so the broker is
a real peer the client can lose (a test kills it to prove the reconnect) and its work
never competes with the UI loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import subprocess
import sys

logger = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the broker binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class BrokerProcess:
    """Start, wait for, and stop one amqtt broker process on ``host:port``.

    ``port`` 0 picks a free port on the first start and keeps it for restarts, so the
    clients reconnect to the same address.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the process and return once it serves (RuntimeError if it does not).

        The child says ``ready`` on stdout once the broker is started: probing the port
        instead races amqtt's start-up (it logs an error for a session opened too early).
        """
        process = self._process = subprocess.Popen(
            [*broker_command(), str(self.port), self.host],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        assert process.stdout is not None
        line = process.stdout.readline()  # EOF (b"") if the child died first
        process.stdout.close()
        if line.strip() != b"ready":
            self.stop()
            raise RuntimeError(f"MQTT broker on {self.host}:{self.port} did not start")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; idempotent."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL at once: the broker vanishes as after a crash (tests)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    async def run(self) -> None:
        """Keep the broker up for as long as the task runs (a supervised worker).

        Raises when the process ends by itself, so the supervisor shows it and starts a
        new one; cancelling stops it.
        """
        try:
            if not self.running:
                await asyncio.to_thread(self.start)
            process = self._process
            assert process is not None
            code = await asyncio.to_thread(process.wait)
            raise RuntimeError(f"MQTT broker process ended (code {code})")
        finally:
            await asyncio.to_thread(self.stop)


def broker_command() -> list[str]:
    """How to start the broker child: this module from a checkout; inside a frozen bundle
    (PyInstaller), whose executable is the console itself and knows no ``-m``, the
    console's ``mqtt-broker`` tool, which runs :func:`main`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "mqtt-broker"]
    return [sys.executable, "-m", __name__]


def main(argv: list[str]) -> int:
    """``PORT [HOST]``: serve until SIGTERM (the demo's and the tests' broker child)."""
    logging.basicConfig(level=logging.WARNING, format="mqtt-broker %(levelname)s %(message)s")
    asyncio.run(_serve(int(argv[0]), argv[1] if len(argv) > 1 else "127.0.0.1"))
    return 0


async def _serve(port: int, host: str) -> None:
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # Windows: terminate() kills outright
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
