"""History charts of one vehicle: fuel/charge, odometer, tire pressures, oil life.

pyqtgraph with wall-clock axes (DateAxisItem), peak downsampling and clip-to-view, so a
million samples draw in tens of milliseconds. Curves are created once and only get
``setData``. A reporting gap (longer than ``GAP_FACTOR`` x the median interval) is drawn
as a gap, not as a straight line pretending to know what happened meanwhile. Series load
on the database thread; a new selection or range cancels the load still in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

logger = logging.getLogger(__name__)

GAP_FACTOR = 3.0
RANGES: dict[str, timedelta | None] = {
    "Last 24 h": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All": None,
}
WHEELS = ("frontLeft", "frontRight", "backLeft", "backRight")
# plot key, title, unit, the series it draws (series key -> pen colour)
PLOTS: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    ("energy", "Fuel / charge", "%", {"fuel": "#d98a00", "battery": "#2e9d4f"}),
    ("odometer", "Odometer", "km", {"odometer": "#1f6fb2"}),
    (
        "tires",
        "Tire pressures",
        "kPa",
        dict(
            zip(
                (f"tire:{w}" for w in WHEELS),
                ("#c62828", "#6a1b9a", "#00838f", "#5d4037"),
                strict=True,
            )
        ),
    ),
    ("oil_life", "Oil life", "%", {"oil_life": "#455a64"}),
)
SERIES_KEYS = tuple(key for _p, _t, _u, pens in PLOTS for key in pens)

Series = tuple[np.ndarray, np.ndarray]  # epoch seconds (float64), values
SeriesLoader = Callable[[int, datetime | None, datetime], Awaitable[dict[str, Series]]]


def with_gaps(t: np.ndarray, v: np.ndarray, factor: float = GAP_FACTOR) -> Series:
    """Insert a NaN value inside every interval longer than ``factor`` x the median one.

    With ``connect="finite"`` the curve then breaks there. The NaN point sits in the
    middle of the gap so x stays sorted (clip-to-view needs that).
    """
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if t.size < 3:
        return t, v
    dt = np.diff(t)
    median = float(np.median(dt))
    if median <= 0:
        return t, v
    cut = np.flatnonzero(dt > factor * median) + 1
    if cut.size == 0:
        return t, v
    middle = (t[cut - 1] + t[cut]) / 2.0
    return np.insert(t, cut, middle), np.insert(v, cut, np.nan)


class TelemetryCharts(QWidget):
    """The charts of the selected vehicle.

    Signals:
        loaded(int): the series of this vehicle are drawn.
    """

    loaded = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("telemetryCharts")
        self.loader: SeriesLoader | None = None
        self.vehicle_id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self.range_combo = QComboBox()
        self.range_combo.setObjectName("chartRange")
        self.range_combo.addItems(list(RANGES))
        self.range_combo.currentIndexChanged.connect(lambda _i: self.reload())
        self.status = QLabel("Select a vehicle in the list")
        self.status.setObjectName("chartStatus")
        self.hover = QLabel("")
        self.hover.setObjectName("chartHover")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Range:"))
        bar.addWidget(self.range_combo)
        bar.addWidget(self.status, 1)
        bar.addWidget(self.hover)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._units: dict[str, str] = {}
        first = None
        for row, (key, title, unit, pens) in enumerate(PLOTS):
            plot = self.graphics.addPlot(
                row=row, col=0, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")}
            )
            plot.setTitle(title, size="9pt")
            plot.setLabel("left", unit)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            if len(pens) > 1:
                plot.addLegend(offset=(5, 5))
            for series, colour in pens.items():
                name = series.removeprefix("tire:")
                self.curves[series] = plot.plot(
                    pen=pg.mkPen(colour, width=1.5), connect="finite", name=name
                )
                self._units[series] = unit
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            self.plots[key] = plot
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.graphics, 1)

    def set_loader(self, loader: SeriesLoader) -> None:
        self.loader = loader

    def range_span(self) -> timedelta | None:
        return RANGES[self.range_combo.currentText()]

    # Loading ------------------------------------------------------------------------
    def show_vehicle(self, vehicle_id: int | None) -> None:
        if vehicle_id == self.vehicle_id and self._task is not None:
            return
        self.vehicle_id = vehicle_id
        self.reload()

    def reload(self) -> asyncio.Task[None] | None:
        """Load the current vehicle's series for the chosen range; the latest call wins."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.vehicle_id is None or self.loader is None:
            self._draw({})
            self.status.setText("Select a vehicle in the list")
            return None
        self.status.setText("Loading…")
        until = datetime.now(UTC)
        span = self.range_span()
        since = until - span if span is not None else None
        self._task = asyncio.get_running_loop().create_task(
            self._load(self.vehicle_id, self.loader, since, until), name="telemetry charts"
        )
        return self._task

    async def _load(
        self, vehicle_id: int, loader: SeriesLoader, since: datetime | None, until: datetime
    ) -> None:
        try:
            series = await loader(vehicle_id, since, until)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("loading the charts of vehicle %s failed", vehicle_id)
            self.status.setText(f"Could not load the history: {exc}")
            return
        if vehicle_id != self.vehicle_id:
            return
        count = self._draw(series)
        if since is not None:
            self.plots["energy"].setXRange(since.timestamp(), until.timestamp(), padding=0)
        else:
            self.plots["energy"].enableAutoRange(axis="x")
        self.status.setText(f"{count:,} samples" if count else "No data in this range")
        self.loaded.emit(vehicle_id)

    def _draw(self, series: dict[str, Series]) -> int:
        count = 0
        for key, curve in self.curves.items():
            t, v = series.get(key, (np.empty(0), np.empty(0)))
            count = max(count, len(t))
            curve.setData(*with_gaps(t, v))
        for plot in self.plots.values():
            plot.enableAutoRange(axis="y")
        return count

    # Hover --------------------------------------------------------------------------
    def hover_text(self, plot_key: str, x: float) -> str:
        """'2026-11-25 14:03 · fuel 54.0 %' for the sample nearest to ``x`` (epoch s)."""
        parts = []
        pens = next(pens for key, _t, _u, pens in PLOTS if key == plot_key)
        for series in pens:
            t, v = self.curves[series].getOriginalDataset()
            if t is None or len(t) == 0:
                continue
            finite = np.isfinite(v)
            t, v = t[finite], v[finite]
            if t.size == 0:
                continue
            i = int(np.clip(np.searchsorted(t, x), 1, t.size - 1)) if t.size > 1 else 0
            if t.size > 1 and abs(t[i - 1] - x) < abs(t[i] - x):
                i -= 1
            when = datetime.fromtimestamp(t[i]).strftime("%Y-%m-%d %H:%M:%S")
            name = series.removeprefix("tire:")
            parts.append(f"{when} · {name} {v[i]:,.1f} {self._units[series]}")
        return "   ".join(parts)

    def _on_mouse_moved(self, pos: QPointF) -> None:
        for key, plot in self.plots.items():
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                self.hover.setText(self.hover_text(key, x))
                return

    def closeEvent(self, event: object) -> None:
        if self._task is not None:
            self._task.cancel()
        super().closeEvent(event)
