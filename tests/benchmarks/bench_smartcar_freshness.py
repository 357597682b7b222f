"""Freshness: how far behind the car the map is, v2.0 polling against V3 webhooks.

One run, one simulated fleet, one simulated day, one budget. The 200 cars of the demo fleet
(``demo_fleet`` + ``simulator_specs``, as demo mode builds them) live in the in-process
Smartcar simulator, whose clock is a virtual one: a float moved forward by this benchmark.
Nothing waits on real time. The day (``START``, mid-December so pacing is mid-month)
is a heap of events processed in time order:

* **trips**: every car is parked at 00:00 and makes 2-6 trips between 06:00 and 23:00,
  each 8-45 minutes (seeded); a trip is ``SimVehicle.set_activity("driving"/"parked")``
  at its virtual start and end, and the car moves lazily with the clock (36 km/h);
* **webhook rounds** every ``ROUND_S`` (60) virtual seconds: ``await engine.tick()``. This
  models the OEM's report cadence while a car changes: Smartcar documents none
  (deliveries are change-driven; no documented minimum interval), so 60 s is our
  assumption, not Smartcar's number;
* **v2.0 polls**, each car on its own schedule from the console's pacing rule;
* **samples** every 5 virtual minutes for every car and both arms, at 30 s past a round
  (mid-way between two rounds, so a sample sees the webhook arm's average position in the
  round cycle rather than the instant right after a delivery).

Both arms look at the same simulated cars at the same instants (the simulator only moves
forward).

**V3 webhooks arm**, the console's real parts over real sockets: the simulator (aiohttp)
delivers to the console's :class:`WebhookReceiver` -> :class:`WebhookIngest` ->
:class:`TelemetryWriter` -> a migrated SQLite file. Each car has a V3 connection in the
console's database (one Connect walk of the fleet owner over HTTP approves all 200) and a
subscription made through the simulator's Management API over HTTP with the console's own
V3 client (``client.v3.create_webhook`` then ``client.v3.subscribe`` per car). The receiver
and the ingest run on the virtual clock too (deliveredAt age check, received_at). After a
round the benchmark waits for the writer (``await writer.flush()``: a condition, not a
sleep; the receiver already answers only after the commit) and then reads what the console
would show: the vehicles the commit touched (``writer.commits``) are re-read with
``VehicleRepository.rows`` (the fleet list's and map's live update) for the position and
``TelemetryReads.latest`` (the readouts' "updated ... ago") for the location's recording
time, i.e. the stored ``oemUpdatedAt`` (0 s old while a car drives, up to 5 min when parked
in the simulator).

**v2.0 polling arm**: every car is polled with the real v2.0 client
(``SmartcarClient(api_version="2.0").read_snapshot``, one ``/batch`` against the same
simulator over HTTP, one owner token from the same Connect walk, refreshed on the virtual
clock). The kinds are the cron's: ``snapshot_kinds(powertrain, granted scopes)`` less what
the car answers as unsupported (``classify_snapshot``), which one unbilled probe batch at
00:00 learns, as the cron would have earlier in the month. Polls are spaced like the cron
(``poll.py``): ``max(poll_interval_s, paced_interval_s(500, used, cost, now))`` with
``cost`` = those kinds; ``used`` starts at what that same rule would have spent since the
1st (replayed from a seeded phase within the first interval of the month), and the last
replayed poll before 00:00 is what the map shows at 00:00 (the car is assumed parked where
it is since then). Shown location = the last successful poll's location and time (memory).

Two metrics per sample and car:

1. **lag**, how far behind the car the map is: 0 when the shown position is within
   ``NEAR_M`` (50 m) of the car's true position (``SimVehicle`` advanced to the sample
   instant), else the time since the car was last within 50 m of the shown position. That
   last instant is tracked per arm and car at every round, every sample, every trip start
   (the car is still at its parking spot) and whenever the shown position changes (the
   car was there when it reported), so a lag is exact for departures and at most 60 s
   (one round) too long otherwise;
2. **age of the shown fix**: sample time minus when the shown location was reported
   (webhooks: the stored recording time; polling: the poll's time).

Reported: median and p95 of both for both arms, the mean lag, the lag over the samples that
caught the car driving (about 7 % of them: most of the time most cars are parked, where
either arm may well show the right spot, so the all-samples median lag is typically 0 for
both and has no ratio), the share of samples with the map more than 50 m off, each ratio
polling / webhooks where the webhooks' value is not 0, webhook deliveries stored, polls
made, the paced poll interval, the wall time of the run, and the warnings logged (none
expected: a delivery the simulator gave up is logged at WARNING).

The webhook arm's age of the shown fix is large by design, not a fault: deliveries are
change-driven, so a parked car sends nothing and its fix ages while its position stays
right. At 00:00 every car's webhook fix is the FIRST_DELIVERY of that instant (no history
before the run), which makes the night's webhook ages smaller than a steady state would.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from urllib.parse import parse_qs, urlsplit

from app.config import DemoSettings, TelemetrySettings
from app.integrations.smartcar import (
    DataKind,
    SmartcarClient,
    SmartcarCredentials,
    SmartcarOrigins,
    TokenSet,
    connect_scope_param,
)
from app.integrations.smartcar.client import snapshot_kinds
from app.integrations.smartcar.errors import SmartcarError
from app.integrations.smartcar.scopes import OPTIONAL_SCOPES, REQUIRED_SCOPES
from app.integrations.smartcar.simulator import RunningSimulator, SimulatorConfig, start_simulator
from app.integrations.smartcar.simulator.state import SimVehicle
from app.integrations.smartcar.webhook_receiver import ReceiverConfig, WebhookReceiver
from app.models.connections import ConnectionRepository
from app.models.database import Database, sqlite_url
from app.models.orm import SmartcarConnection
from app.models.vehicles import VehicleRepository
from app.services import poll_policy as policy
from app.services.connections.backends import DEMO_OWNER_EMAIL, simulator_specs
from app.services.telemetry.reads import TelemetryReads
from app.services.telemetry.writer import TelemetryWriter
from app.services.vehicles.demo_fleet import demo_fleet, seed_if_empty
from app.services.webhooks.ingest import WebhookIngest
from tests.benchmarks.harness import Result
from tests.integration.integrations.smartcar.connect_walk import walk_connect

NAME = "smartcar_freshness"
CARS = 200
BUDGET = 500  # requests per car per month, both arms (webhook deliveries cost none)
SEED = 20261214
START = datetime(2026, 12, 14, tzinfo=UTC).timestamp()
DAY_S = 86_400.0
ROUND_S = 60.0
SAMPLE_S = 300.0
SAMPLE_OFFSET_S = 30.0
NEAR_M = 50.0
TRIPS_PER_CAR = (2, 6)
TRIP_MINUTES = (8.0, 45.0)
TRIP_WINDOW_H = (6.0, 23.0)
TARGET_MEDIAN_LAG_S = 120.0
TARGET_WALL_S = 180.0
CLIENT_ID, SECRET, REDIRECT = "freshness-bench", "freshness-secret", "http://localhost/cb"
AMT = "freshness-management-token"
SCOPES = [*REQUIRED_SCOPES, *OPTIONAL_SCOPES]

# Events at the same instant: a trip changes the car first, then the round sees it, then
# polls, then the sample looks at everything.
TRIP, ROUND, POLL, SAMPLE = 0, 1, 2, 3


class VirtualClock:
    """Epoch seconds that move only when the benchmark says so."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@dataclass
class Shown:
    """What one arm's map shows of one car."""

    lat: float
    lon: float
    reported_at: float  # when the shown location was reported (stored time / poll time)
    near_at: float  # the last instant the car was within NEAR_M of it


@dataclass
class Car:
    index: int
    vehicle_id: int  # the console's
    smartcar_id: str
    sim: SimVehicle
    powertrain: str
    kinds: list[DataKind] = field(default_factory=list)
    used: int = 0  # this month's billed requests of the polling arm


@dataclass
class Arm:
    label: str
    shown: dict[int, Shown] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    ages: list[float] = field(default_factory=list)
    driving_lags: list[float] = field(default_factory=list)  # samples of a car driving

    def stats(self) -> dict[str, float]:
        return {
            "median lag": statistics.median(self.lags),
            "p95 lag": nearest_rank(self.lags, 0.95),
            "mean lag": statistics.fmean(self.lags),
            "median lag while driving": statistics.median(self.driving_lags),
            "p95 lag while driving": nearest_rank(self.driving_lags, 0.95),
            "median age of the shown fix": statistics.median(self.ages),
            "p95 age of the shown fix": nearest_rank(self.ages, 0.95),
        }


class WarningCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular ground distance (plenty for tens of metres inside one city)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dx = math.radians(lon2 - lon1) * math.cos((p1 + p2) / 2)
    return math.hypot(p2 - p1, dx) * 6_371_000.0


def trips(rng: random.Random) -> list[tuple[float, float]]:
    """One car's (start, end) trips: 2-6, 8-45 min each, inside 06:00-23:00, no overlap."""
    count = rng.randint(*TRIPS_PER_CAR)
    durations = [rng.uniform(*TRIP_MINUTES) * 60 for _ in range(count)]
    window_start = START + TRIP_WINDOW_H[0] * 3600
    slack = (TRIP_WINDOW_H[1] - TRIP_WINDOW_H[0]) * 3600 - sum(durations)
    out, driven = [], 0.0
    for offset, duration in zip(
        sorted(rng.uniform(0, slack) for _ in range(count)), durations, strict=True
    ):
        begin = window_start + offset + driven
        out.append((begin, begin + duration))
        driven += duration
    return out


def poll_wait(used: int, cost: int, now: float, interval_s: float) -> float:
    """The cron's wait after a successful poll (poll.py ``_apply``): the configured interval,
    or the budget's pacing when that is longer; no budget left = the next month."""
    paced = policy.paced_interval_s(BUDGET, used, cost, now)
    if paced is None:
        return policy.next_month_start(now) - now
    return max(interval_s, paced)


def month_start(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC)
    return datetime(day.year, day.month, 1, tzinfo=UTC).timestamp()


def paced_history(cost: int, rng: random.Random, interval_s: float) -> tuple[int, float, float]:
    """Replay the pacing rule from the 1st: (used, last poll before START, first after)."""
    begin = month_start(START)
    due = begin + rng.uniform(0, poll_wait(0, cost, begin, interval_s))
    used, last = 0, begin
    while due < START:
        used += cost
        last = due
        due += poll_wait(used, cost, due, interval_s)
    return used, last, due


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]


class OwnerToken:
    """The fleet owner's v2.0 token pair, refreshed by the virtual clock."""

    def __init__(self, client: SmartcarClient, tokens: TokenSet, clock: VirtualClock) -> None:
        self._client, self._clock = client, clock
        self._set(tokens)
        self.refreshes = 0

    def _set(self, tokens: TokenSet) -> None:
        self._tokens = tokens
        lifetime = (tokens.expires_at - datetime.now(UTC)).total_seconds()
        self._expires_at = self._clock() + lifetime

    async def fresh(self) -> str:
        if self._clock() >= self._expires_at - 300:
            self._set(await self._client.auth.refresh(self._tokens.refresh_token))
            self.refreshes += 1
        return self._tokens.access_token


class Bench:
    def __init__(self, sim: RunningSimulator, clock: VirtualClock, db: Database) -> None:
        self.sim, self.clock, self.db = sim, clock, db
        self.origins = SmartcarOrigins.for_simulator(sim.base_url)
        self.creds = SmartcarCredentials(CLIENT_ID, SECRET, REDIRECT)
        self.v2 = SmartcarClient(self.origins, self.creds, api_version="2.0", clock=clock)
        self.v3 = SmartcarClient(self.origins, self.creds, api_version="3", clock=clock)
        self.vehicles = VehicleRepository(db)
        self.reads = TelemetryReads(db)
        self.writer = TelemetryWriter(db)
        self.committed: set[int] = set()
        self.writer.commits.subscribe(self.committed.update)
        ingest = WebhookIngest(
            db, ConnectionRepository(db), self.writer, changed=lambda _: None, clock=clock.datetime
        )
        self.receiver = WebhookReceiver(ReceiverConfig(port=0), AMT, ingest, clock=clock)
        self.cars: list[Car] = []
        self.by_vehicle: dict[int, Car] = {}
        self.hooks, self.polls = Arm("V3 webhooks"), Arm("v2.0 polling")
        self.events: list[tuple[float, int, int, int, str]] = []
        self._seq = itertools.count()
        self.interval_s = float(TelemetrySettings().poll_interval_s)
        self.poll_intervals: list[float] = []
        self.polls_made = self.poll_failures = 0
        self.token: OwnerToken | None = None
        self.first_deliveries = 0
        self.driving_samples = 0

    def push(self, at: float, kind: int, car: int = -1, activity: str = "") -> None:
        heapq.heappush(self.events, (at, kind, next(self._seq), car, activity))

    # -- setup ---------------------------------------------------------------------------

    async def setup(self) -> None:
        url = self.v2.auth.connect_url(connect_scope_param(), "bench", mode="simulated")
        redirect = await asyncio.to_thread(walk_connect, url, email=DEMO_OWNER_EMAIL)
        query = parse_qs(urlsplit(redirect).query)
        user_id = query["user_id"][0]
        self.token = OwnerToken(
            self.v2, await self.v2.auth.exchange_code(query["code"][0]), self.clock
        )
        await self.db.run(self._console_rows, user_id)
        await self.receiver.start()
        assert self.receiver.url is not None
        webhook = await self.v3.v3.create_webhook("freshness bench", self.receiver.url)
        for car in self.cars:
            await self.v3.v3.subscribe(webhook.id, car.smartcar_id)
        # Every subscription kicked a round (FIRST_DELIVERY); this one queues behind them.
        await self.sim.webhooks.tick()
        await self.writer.flush()
        subs = self.sim.state.v3.subscriptions.values()
        assert len(subs) == CARS and all(s.first_delivered for s in subs)
        self.first_deliveries = self.receiver.counts["stored"]
        await self.refresh_hooks(START)
        assert len(self.hooks.shown) == CARS
        await self.setup_polling()
        self.checkpoint_all(START)
        rng = random.Random(SEED)
        for car in self.cars:
            for begin, end in trips(rng):
                self.push(begin, TRIP, car.index, "driving")
                self.push(end, TRIP, car.index, "parked")
        for k in range(1, int(DAY_S / ROUND_S) + 1):
            self.push(START + k * ROUND_S, ROUND)
        for k in range(int(DAY_S / SAMPLE_S)):
            self.push(START + SAMPLE_OFFSET_S + k * SAMPLE_S, SAMPLE)

    def _console_rows(self, user_id: str) -> None:
        """The demo fleet in the console's database, each car with a V3 connection."""
        self.db.migrate()
        seed_if_empty(self.vehicles, DemoSettings(cars=CARS, micromobility=0))
        now = self.clock.datetime()
        by_vin = self.sim.state.by_vin
        with self.db.session() as s:
            for row in self.vehicles.list_rows():
                assert row.vin is not None and row.powertrain is not None
                sim = by_vin[row.vin]
                car = Car(len(self.cars), row.id, sim.vehicle_id, sim, row.powertrain)
                self.cars.append(car)
                self.by_vehicle[row.id] = car
                s.add(
                    SmartcarConnection(
                        vehicle_id=row.id,
                        smartcar_vehicle_id=sim.vehicle_id,
                        smartcar_user_id=user_id,
                        status="active",
                        api_version="3",
                        webhook_state="subscribed",
                        granted_scopes=SCOPES,
                        connected_at=now,
                    )
                )
        assert len(self.cars) == CARS

    async def setup_polling(self) -> None:
        """Per car: learn its kinds (one unbilled probe), replay the month's pacing."""
        assert self.token is not None
        token = await self.token.fresh()
        rng = random.Random(SEED + 1)
        for car in self.cars:
            asked = list(snapshot_kinds(car.powertrain, SCOPES))
            snapshot = await self.v2.read_snapshot(car.smartcar_id, token, asked)
            outcome = policy.classify_snapshot(snapshot, len(asked))
            assert snapshot.location is not None, outcome.message
            car.kinds = [k for k in asked if k not in outcome.unsupported]
            car.used, last, due = paced_history(len(car.kinds), rng, self.interval_s)
            location = snapshot.location
            self.polls.shown[car.index] = Shown(location.latitude, location.longitude, last, START)
            self.push(due, POLL, car.index)

    # -- the day -------------------------------------------------------------------------

    async def run_day(self) -> None:
        end = START + DAY_S
        while self.events:
            at, kind, _, index, activity = heapq.heappop(self.events)
            if at > end:
                break
            self.clock.now = at
            if kind == TRIP:
                car = self.cars[index]
                car.sim.advance(at)
                self.checkpoint(car, at)
                car.sim.set_activity("driving" if activity == "driving" else "parked", at)
            elif kind == ROUND:
                await self.sim.webhooks.tick()
                await self.writer.flush()
                await self.refresh_hooks(at)
                self.checkpoint_all(at)
            elif kind == POLL:
                await self.poll(self.cars[index], at)
            else:
                self.checkpoint_all(at)
                self.sample(at)

    async def refresh_hooks(self, now: float) -> None:
        """Re-read what the console shows of the cars the last commits touched."""
        touched = self.committed & self.by_vehicle.keys()
        self.committed.clear()  # in place: the writer's listener holds this set
        if not touched:
            return
        for row in await self.db.run(self.vehicles.rows, sorted(touched)):
            latest = await self.reads.latest(row.id)
            if row.latitude is None or row.longitude is None or latest is None:
                continue
            value = latest.values.get("latitude")
            if value is None or value.recorded_at is None:
                continue
            index = self.by_vehicle[row.id].index
            reported = value.recorded_at.timestamp()
            before = self.hooks.shown.get(index)
            if before is not None and (before.lat, before.lon) == (row.latitude, row.longitude):
                before.reported_at = reported
                continue
            # The car was at the position it reported when it reported it.
            self.hooks.shown[index] = Shown(row.latitude, row.longitude, reported, reported)

    async def poll(self, car: Car, now: float) -> None:
        assert self.token is not None
        self.polls_made += 1
        try:
            token = await self.token.fresh()
            snapshot = await self.v2.read_snapshot(car.smartcar_id, token, car.kinds)
            outcome = policy.classify_snapshot(snapshot, len(car.kinds))
        except SmartcarError as exc:
            outcome = policy.classify_error(exc)
            snapshot = None
        car.used += outcome.billed
        car.kinds = [k for k in car.kinds if k not in outcome.unsupported]
        read = outcome.verdict in (policy.Verdict.SUCCESS, policy.Verdict.PARTIAL)
        if read and snapshot is not None and snapshot.location is not None:
            location = snapshot.location
            self.polls.shown[car.index] = Shown(location.latitude, location.longitude, now, now)
        else:
            self.poll_failures += 1
            print(f"poll of car {car.index} failed: {outcome.verdict} {outcome.message}")
        wait = poll_wait(car.used, len(car.kinds), now, self.interval_s)
        self.poll_intervals.append(wait)
        self.push(now + wait, POLL, car.index)

    def checkpoint(self, car: Car, now: float) -> None:
        for arm in (self.hooks, self.polls):
            shown = arm.shown[car.index]
            if distance_m(car.sim.lat, car.sim.lon, shown.lat, shown.lon) <= NEAR_M:
                shown.near_at = now

    def checkpoint_all(self, now: float) -> None:
        for car in self.cars:
            car.sim.advance(now)
            self.checkpoint(car, now)

    def sample(self, now: float) -> None:
        for car in self.cars:
            driving = car.sim.activity == "driving"
            self.driving_samples += driving
            for arm in (self.hooks, self.polls):
                shown = arm.shown[car.index]
                near = distance_m(car.sim.lat, car.sim.lon, shown.lat, shown.lon) <= NEAR_M
                lag = 0.0 if near else now - shown.near_at
                arm.lags.append(lag)
                arm.ages.append(now - shown.reported_at)
                if driving:
                    arm.driving_lags.append(lag)

    async def close(self) -> None:
        await self.v2.aclose()
        await self.v3.aclose()
        await self.writer.flush()
        await self.receiver.stop()


def _results(bench: Bench, wall_s: float, warnings: int) -> list[Result]:
    out = []
    hooks, polls = bench.hooks.stats(), bench.polls.stats()
    for arm, stats in ((bench.hooks, hooks), (bench.polls, polls)):
        for metric, seconds in stats.items():
            target, met = "", None
            if arm is bench.hooks and metric == "median lag":
                target, met = "< 2 min", seconds < TARGET_MEDIAN_LAG_S
            out.append(Result(NAME, f"{arm.label}: {metric}", seconds / 60, "min", target, met))
        off = sum(lag > 0 for lag in arm.lags) / len(arm.lags)
        out.append(Result(NAME, f"{arm.label}: samples with the map > 50 m off", off * 100, "%"))
    for metric in hooks:
        if hooks[metric] > 0:
            ratio = polls[metric] / hooks[metric]
            out.append(Result(NAME, f"ratio polling / webhooks: {metric}", ratio, "x"))
        else:
            print(f"ratio polling / webhooks, {metric}: the webhooks' is 0 s, so no ratio")
    stored = bench.receiver.counts["stored"] - bench.first_deliveries
    intervals = sorted(bench.poll_intervals)
    out += [
        Result(NAME, "webhook deliveries stored over the day", stored, "events"),
        Result(NAME, "v2.0 polls made over the day", bench.polls_made, "polls"),
        Result(
            NAME, "v2.0 polls failed", bench.poll_failures, "polls", "0", bench.poll_failures == 0
        ),
        Result(
            NAME,
            "v2.0 poll interval from the pacing rule (median)",
            statistics.median(intervals) / 3600,
            "h",
        ),
        Result(NAME, "wall time of the run", wall_s, "s", "< 180 s", wall_s < TARGET_WALL_S),
        Result(NAME, "warnings logged", warnings, "records", "0", warnings == 0),
    ]
    return out


async def _measure(folder: Path) -> list[Result]:
    started = time.perf_counter()
    counter = WarningCounter()
    logging.getLogger().addHandler(counter)
    clock = VirtualClock(START)
    specs = simulator_specs(demo_fleet(DemoSettings(cars=CARS, micromobility=0)))
    sim = await start_simulator(
        SimulatorConfig(
            client_id=CLIENT_ID,
            client_secret=SECRET,
            redirect_uris=(REDIRECT,),
            vehicles=specs,
            clock=clock,
            management_token=AMT,
            webhook_interval_s=0,  # rounds only when the timeline says so
        )
    )
    for vehicle in sim.state.vehicles.values():
        vehicle.set_activity("parked", START)  # the night: nobody drives, nothing charges
    db = Database(sqlite_url(folder / "fleet.sqlite"))
    bench = Bench(sim, clock, db)
    writer_task = asyncio.ensure_future(bench.writer.run())
    try:
        await bench.setup()
        await bench.run_day()
    finally:
        await bench.close()
        writer_task.cancel()
        await asyncio.gather(writer_task, return_exceptions=True)
        await sim.stop()
        db.close()
        logging.getLogger().removeHandler(counter)
    wall_s = time.perf_counter() - started
    stats = sim.webhooks.stats_json()
    print(
        f"simulator: {stats['sent']} deliveries sent, {stats['failed']} failed, "
        f"{stats['gave_up']} given up; receiver answers {dict(bench.receiver.counts)}; "
        f"{bench.token.refreshes if bench.token else 0} v2.0 token refreshes; "
        f"{bench.driving_samples / (len(bench.hooks.lags) or 1):.1%} of samples caught a car "
        "driving"
    )
    costs = Counter(len(car.kinds) for car in bench.cars)
    print(
        "v2.0 cost per poll (kinds asked): "
        + ", ".join(f"{n} cars x {cost}" for cost, n in sorted(costs.items()))
        + f"; paced intervals {min(bench.poll_intervals) / 3600:.1f}"
        f"-{max(bench.poll_intervals) / 3600:.1f} h"
    )
    for record in counter.records[:5]:
        print(f"logged {record.levelname}: {record.name}: {record.getMessage()}")
    return _results(bench, wall_s, len(counter.records))


def run() -> list[Result]:
    with TemporaryDirectory() as tmp:
        return asyncio.run(_measure(Path(tmp)))
