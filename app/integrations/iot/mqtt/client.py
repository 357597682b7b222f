"""The MQTT device client: subscribe, decode, store through the gateway's sink, command.

One client per broker. Reports go to the same :class:`RecordSink` the TCP gateway feeds
(``IotIngest`` in the console), so a ZIMO bike's report becomes the same reading as an
Omni scooter's frame; ids the sink does not know go to its unknown-devices inbox, with
the topic as their address. A publish that cannot be decoded (not JSON, a wrong type, a
topic no profile has) is refused: logged (one line, then at most once a minute with the
count), shown in the device's frame log when the device is known, never stored; the
messages around it are unaffected.

Durability: aiomqtt acknowledges a QoS 1 publish when it is received, not when it is
stored (paho has no per-message ack here), so what is received but not yet stored is
kept in ``_backlog`` across broker outages and stored before anything newer. A stable
``client_id`` gives a persistent session: the broker keeps QoS 1 reports for the
console while it is away.

Commands use the gateway's :class:`CommandTracker` (one lifecycle for every device): a
command is SENT once the broker has it, ACKNOWLEDGED by the device's next report, and
CONFIRMED when a report shows the requested lock state (locate and buzzer: by that next
report), or it times out. Commands wait queued while the broker is away.

Reconnecting is the supervisor's job: :meth:`run` raises :class:`BrokerUnavailable` when
the broker goes away, and the TaskOwner restarts it with backoff and shows it in the
status bar (spawn it with ``outages=(BrokerUnavailable,)``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import aiomqtt

from app.integrations.iot.commands import CommandHandle, CommandTracker
from app.integrations.iot.mqtt.profile import MqttProfile
from app.integrations.iot.records import DeviceRecord, FrameError, RecordKind
from app.integrations.iot.sink import MAX_REJECTED, Received, RecordSink

logger = logging.getLogger(__name__)

REFUSED_LOG_EVERY_S = 60.0


class BrokerUnavailable(ConnectionError):
    """The broker cannot be reached or went away; the supervisor retries with backoff."""


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """Where the broker is and how to log in. ``password`` never appears in a repr."""

    url: str  # mqtt://host[:1883] or mqtts://host[:8883]
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""  # mqtts: the CA that signed the broker's certificate ("" = system)
    cert_file: str = ""  # client certificate, where the broker wants one per client
    key_file: str = ""
    client_id: str = ""  # "" = a random id and a clean session
    topic_prefix: str = ""
    keepalive: int = 30
    max_batch: int = 2000  # publishes stored in one sink call
    #: A device heard within this long counts as online (MQTT gives no per-device link).
    online_within: timedelta = timedelta(minutes=5)

    def endpoint(self) -> tuple[str, int, bool]:
        """(host, port, tls); ValueError for a URL that is not mqtt:// or mqtts://."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("MQTT broker URL must be mqtt://host:port or mqtts://host:port")
        tls = parts.scheme == "mqtts"
        return parts.hostname, parts.port or (8883 if tls else 1883), tls

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.endpoint()[2]:
            return None
        context = ssl.create_default_context(cafile=self.ca_file or None)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file or None)
        return context


@dataclass(slots=True)
class MqttStats:
    """Counters for the status bar and the benchmark."""

    received: int = 0
    records_stored: int = 0
    malformed: int = 0
    wrong_topic: int = 0
    unknown: int = 0
    commands_published: int = 0
    connects: int = 0


class RefusalLog:
    """One log line per refusal at first, then at most one every ``every_s`` with a count:
    a device publishing garbage ten times a second must not drown the log."""

    def __init__(self, level: int, every_s: float = REFUSED_LOG_EVERY_S) -> None:
        self.level = level
        self.every_s = every_s
        self._logged_at: float | None = None
        self._suppressed = 0

    def refuse(self, text: str) -> None:
        now = time.monotonic()
        if self._logged_at is not None and now - self._logged_at < self.every_s:
            self._suppressed += 1
            return
        more = f" (+{self._suppressed} more refused since)" if self._suppressed else ""
        logger.log(self.level, "MQTT publish refused, not stored: %s%s", text, more)
        self._logged_at, self._suppressed = now, 0


class MqttDeviceClient:
    """Subscribes to every profile's report topic; ``run`` must be supervised."""

    def __init__(
        self,
        config: MqttConfig,
        profiles: Sequence[MqttProfile],
        sink: RecordSink,
        commands: CommandTracker,
    ) -> None:
        config.endpoint()  # a bad URL is refused now, not at the first connect
        self.config = config
        self.profiles = tuple(profiles)
        self._by_protocol = {p.protocol: p for p in self.profiles}
        self.sink = sink
        self.commands = commands
        self.stats = MqttStats()
        self._client: aiomqtt.Client | None = None
        self._backlog: list[Received] = []
        self._waiting: set[str] = set()  # devices with queued commands
        self._inflight: dict[str, list[CommandHandle]] = {}  # published, not yet answered
        self._publishes: set[asyncio.Task[None]] = set()
        self._malformed_log = RefusalLog(logging.WARNING)
        self._unknown_log = RefusalLog(logging.INFO)

    @property
    def connected(self) -> bool:
        return self._client is not None

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(self._by_protocol)

    # -- the connection ----------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe, store what arrives; BrokerUnavailable when the broker goes."""
        host, port, _tls = self.config.endpoint()
        prefix = self.config.topic_prefix
        client = aiomqtt.Client(
            host,
            port,
            username=self.config.username or None,
            password=self.config.password or None,
            identifier=self.config.client_id or None,
            clean_session=not self.config.client_id,
            keepalive=self.config.keepalive,
            tls_context=self.config.tls_context(),
        )
        try:
            async with client:
                for profile in self.profiles:
                    await client.subscribe(profile.topic_filter(prefix), qos=profile.qos)
                self._client = client
                self.stats.connects += 1
                logger.info(
                    "MQTT: connected to %s:%d, subscribed to %s",
                    host,
                    port,
                    ", ".join(p.topic_filter(prefix) for p in self.profiles),
                )
                await self._store_backlog()
                for device_id in list(self._waiting):
                    self._flush(device_id)
                await self._consume(client)
        except aiomqtt.MqttError as exc:
            raise BrokerUnavailable(f"MQTT broker {host}:{port}: {exc}") from exc
        finally:
            self._client = None

    async def _consume(self, client: aiomqtt.Client) -> None:
        messages = client.messages
        async for message in messages:
            batch = [message]
            while len(messages) and len(batch) < self.config.max_batch:
                batch.append(await anext(messages))
            await self._receive(batch)

    async def _receive(self, batch: list[aiomqtt.Message]) -> None:
        for message in batch:
            self.stats.received += 1
            topic = message.topic.value
            payload = message.payload
            data = payload.encode() if isinstance(payload, str) else bytes(payload or b"")
            profile = next(
                (p for p in self.profiles if message.topic.matches(self._filter(p))), None
            )
            if profile is None:
                self.stats.wrong_topic += 1
                self._malformed_log.refuse(f"topic {topic!r} belongs to no profile")
                continue
            try:
                records = profile.decode(topic, data, self.config.topic_prefix)
            except FrameError as exc:
                self._refuse(profile, topic, data, str(exc))
                continue
            if await self._admitted(profile, topic, records):
                self._backlog.append(Received(topic, records))
        await self._store_backlog()

    def _filter(self, profile: MqttProfile) -> str:
        return profile.topic_filter(self.config.topic_prefix)

    async def _admitted(
        self, profile: MqttProfile, topic: str, records: list[DeviceRecord]
    ) -> bool:
        """True if every device of the publish is known; the others go to the inbox."""
        unknown = sorted(
            {
                r.device_id
                for r in records
                if r.device_id and not self.sink.is_known(r.device_id, profile.protocol)
            }
        )
        for device_id in unknown:
            self.stats.unknown += 1
            self._unknown_log.refuse(f"unknown device {device_id} ({profile.protocol}) on {topic}")
            await self.sink.unknown_device(device_id, profile.protocol, topic)
        return not unknown

    def _refuse(self, profile: MqttProfile, topic: str, data: bytes, reason: str) -> None:
        self.stats.malformed += 1
        self._malformed_log.refuse(f"{profile.protocol} on {topic!r}: {reason}")
        try:
            device_id = profile.ident_in_topic(topic, self.config.topic_prefix)
        except FrameError:
            device_id = None
        if device_id is not None and self.sink.is_known(device_id, profile.protocol):
            self.sink.rejected(device_id, profile.protocol, topic, data[:MAX_REJECTED], reason)

    async def _store_backlog(self) -> None:
        """Store what was received; kept for the next try if the sink fails."""
        if not self._backlog:
            return
        batch = self._backlog
        await self.sink.store(batch)
        self._backlog = []
        for read in batch:
            self.stats.records_stored += len(read.records)
            for record in read.records:
                self._observe(record)

    # -- commands ----------------------------------------------------------------------

    def handles(self, protocol: str) -> bool:
        return protocol in self._by_protocol

    async def send_command(self, device_id: str, action: str, *, protocol: str) -> CommandHandle:
        """Queue ``action`` and publish it now if the broker is connected."""
        handle = self.commands.create(device_id, protocol, action)
        self._waiting.add(device_id)
        self._flush(device_id)
        return handle

    def _flush(self, device_id: str) -> None:
        if self._client is None:
            return
        self.commands.flush(device_id, self._publish)
        if not self.commands.pending(device_id):
            self._waiting.discard(device_id)

    def _publish(self, handle: CommandHandle) -> bool:
        """Encode (ValueError: the profile cannot) and hand to the broker; False if away."""
        profile = self._by_protocol.get(handle.protocol)
        if profile is None:
            raise ValueError(f"no MQTT profile speaks {handle.protocol!r}")
        topic, payload = profile.encode_command(
            handle.device_id, handle.action, handle.command_id, self.config.topic_prefix
        )
        client = self._client
        if client is None:
            return False
        task = asyncio.get_running_loop().create_task(
            self._publish_one(client, topic, payload, profile.qos, handle)
        )
        self._publishes.add(task)
        task.add_done_callback(self._publishes.discard)
        self._inflight.setdefault(handle.device_id, []).append(handle)
        return True

    async def _publish_one(
        self, client: aiomqtt.Client, topic: str, payload: bytes, qos: int, handle: CommandHandle
    ) -> None:
        try:
            await client.publish(topic, payload, qos=qos)
            self.stats.commands_published += 1
        except aiomqtt.MqttError as exc:  # the command then times out as SENT, visibly
            logger.warning("MQTT: publishing %s to %s failed: %s", handle.action, topic, exc)

    def _observe(self, record: DeviceRecord) -> None:
        """A report after a command is the device's answer; its lock state confirms."""
        device_id = record.device_id or ""
        inflight = self._inflight.get(device_id)
        if inflight:
            record = dataclasses.replace(
                record, kind=RecordKind.COMMAND_RESULT, command_result="reported after the command"
            )
        self.commands.observe(record)
        if inflight:
            live = [h for h in inflight if not h.done]
            if live:
                self._inflight[device_id] = live
            else:
                del self._inflight[device_id]

    async def close(self) -> None:
        """Wait for command publishes in flight (the connection itself ends with ``run``)."""
        if self._publishes:
            await asyncio.gather(*self._publishes, return_exceptions=True)
