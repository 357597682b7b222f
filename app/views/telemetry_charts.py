"""History charts of one vehicle: fuel/charge, odometer, tire pressures, oil life.

pyqtgraph with wall-clock axes (DateAxisItem), peak downsampling and clip-to-view, so a
million samples draw in tens of milliseconds. Curves are created once and only get
``setData``. A reporting gap (longer than ``GAP_FACTOR`` x the median interval) is drawn
as a gap, not as a straight line pretending to know what happened meanwhile. Series load
on the database thread; a new selection or range cancels the load still in flight.

What a vehicle kind cannot report is not charted (scooters and e-bikes have no tires or
oil life to report, see KIND_PLOTS). Every load sets both axes afresh, so nothing of the
previous vehicle's ranges survives. Few samples are drawn with a symbol per sample (a
lone sample is a line of zero length, which draws nothing), and a flat or single-valued
series gets a padded range around its value instead of pyqtgraph's unit-wide one; SI
prefixes are off, since "km (x0.001)" reads as nonsense on an odometer.

A range too big to fetch sample by sample arrives as a min/max overview
(app/models/chart_series.py); zooming in then asks the loader again for the visible
range (``DETAIL_DELAY_MS`` after the view settles), which soon yields raw samples.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.models.chart_series import ChartData
from app.views.chart_ranges import Series, with_gaps, x_range, y_range
from app.views.lifetime import gone

logger = logging.getLogger(__name__)

DETAIL_DELAY_MS = 200  # zoom/pan settles this long before the visible range is re-read
ZOOM_RELOAD = 0.5  # an overview is re-read once the view shows less than this share of it
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
# What each vehicle kind reports (IoT devices send battery, odometer, position and lock:
# app/integrations/iot/records.py); an unknown kind gets every plot.
KIND_PLOTS: dict[str, tuple[str, ...]] = {
    "car": tuple(key for key, *_rest in PLOTS),
    "scooter": ("energy", "odometer"),
    "e-bike": ("energy", "odometer"),
}
# y range of a plot with nothing to draw (so it never shows the previous vehicle's)
EMPTY_Y: dict[str, tuple[float, float]] = {
    "energy": (0.0, 100.0),
    "odometer": (0.0, 100.0),
    "tires": (0.0, 300.0),
    "oil_life": (0.0, 100.0),
}
SYMBOL_LIMIT = 200  # series with at most this many samples show a symbol on each

SeriesLoader = Callable[[int, datetime | None, datetime], Awaitable[ChartData | dict[str, Series]]]


class TelemetryCharts(QWidget):
    """The charts of the selected vehicle.

    Signals:
        loaded(int): the series of this vehicle are drawn.
        detail_loaded(int): after a zoom, the visible range was re-read and drawn.
    """

    loaded = Signal(int)
    detail_loaded = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("telemetryCharts")
        self.loader: SeriesLoader | None = None
        self.vehicle_id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._base: tuple[float, float] = (-np.inf, np.inf)  # the chosen range, epoch s
        self._window: tuple[float, float] | None = None  # what the drawn data covers
        self._overview = False
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(self._load_detail)
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
        self._colours: dict[str, str] = {}
        self._units: dict[str, str] = {}
        first = None
        for row, (key, title, unit, pens) in enumerate(PLOTS):
            plot = self.graphics.addPlot(
                row=row, col=0, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")}
            )
            plot.setTitle(title, size="9pt")
            plot.setLabel("left", unit)
            plot.getAxis("left").enableAutoSIPrefix(False)
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
                self._colours[series] = colour
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            self.plots[key] = plot
        self._shown: tuple[str, ...] = tuple(self.plots)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plots["energy"].vb.sigXRangeChanged.connect(lambda *_: self._detail_timer.start())

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.graphics, 1)

    def set_loader(self, loader: SeriesLoader) -> None:
        self.loader = loader

    def range_span(self) -> timedelta | None:
        return RANGES[self.range_combo.currentText()]

    # Loading ------------------------------------------------------------------------
    def show_vehicle(self, vehicle_id: int | None, kind: str | None = None) -> None:
        """Chart this vehicle; ``kind`` ("car", "scooter", ...) decides which plots apply."""
        if vehicle_id == self.vehicle_id and self._task is not None:
            return
        self.vehicle_id = vehicle_id
        self._arrange(KIND_PLOTS.get(kind or "", KIND_PLOTS["car"]))
        self.reload()

    def shown_plots(self) -> list[str]:
        """The plots in the layout now, top to bottom."""
        return [key for key in self.plots if key in self._shown]

    def _arrange(self, keys: tuple[str, ...]) -> None:
        """Lay out exactly these plots (removed ones leave no empty rows behind)."""
        if keys == self._shown:
            return
        layout = self.graphics.ci
        for key in self._shown:
            layout.removeItem(self.plots[key])
        for row, key in enumerate(keys):
            layout.addItem(self.plots[key], row=row, col=0)
        self._shown = keys

    def reload(self) -> asyncio.Task[None] | None:
        """Load the current vehicle's series for the chosen range; the latest call wins."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._window = None
        self._detail_timer.stop()
        if self.vehicle_id is None or self.loader is None:
            self._draw(ChartData({}, 0, True))
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
            data = _chart_data(await loader(vehicle_id, since, until))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("loading the charts of vehicle %s failed", vehicle_id)
            if not gone(self):
                self.status.setText(f"Could not load the history: {exc}")
            return
        if gone(self) or vehicle_id != self.vehicle_id:
            return
        self._draw(data)
        self._base = self._window or (-np.inf, np.inf)
        shown = x_range(data, since, until)
        if shown is None:
            self.plots["energy"].enableAutoRange(axis="x")
        else:
            self.plots["energy"].setXRange(*shown, padding=0)
        count = data.samples
        plural = "" if count == 1 else "s"
        self.status.setText(f"{count:,} sample{plural}" if count else "No data in this range")
        self.loaded.emit(vehicle_id)

    def _draw(self, data: ChartData, *, y_auto: bool = True) -> None:
        empty = (np.empty(0), np.empty(0))
        for key, curve in self.curves.items():
            t, v = data.series.get(key, empty)
            curve.setData(*(with_gaps(t, v) if data.detailed else (t, v)))
            few = 0 < np.count_nonzero(np.isfinite(v)) <= SYMBOL_LIMIT
            colour = self._colours[key]
            curve.setSymbol("o" if few else None)
            curve.setSymbolSize(6)
            curve.setSymbolPen(colour)
            curve.setSymbolBrush(colour)
        self._overview = not data.detailed
        self._window = _covered(data)
        if y_auto:
            for plot_key, _title, _unit, pens in PLOTS:
                values = [data.series.get(series, empty)[1] for series in pens]
                fixed = y_range(values, EMPTY_Y[plot_key])
                if fixed is None:
                    self.plots[plot_key].enableAutoRange(axis="y")
                else:
                    self.plots[plot_key].setYRange(*fixed, padding=0)

    # Zoom detail --------------------------------------------------------------------
    def _wanted_range(self) -> tuple[float, float] | None:
        """The range to re-read for the visible part, or None when what is drawn does."""
        if self._window is None or self.vehicle_id is None or self.loader is None:
            return None
        if self._task is not None and not self._task.done():
            return None  # a load is in flight; it decides what is drawn
        a, b = self.plots["energy"].vb.viewRange()[0]
        a, b = max(a, self._base[0]), min(b, self._base[1])
        lo, hi = self._window
        if b <= a:
            return None
        outside = a < lo or b > hi
        zoomed = self._overview and (b - a) < ZOOM_RELOAD * (hi - lo)
        if not (outside or zoomed):
            return None
        margin = (b - a) / 2
        return max(a - margin, self._base[0]), min(b + margin, self._base[1])

    def _load_detail(self) -> None:
        wanted = self._wanted_range()
        if wanted is None or self.vehicle_id is None or self.loader is None:
            return
        since = datetime.fromtimestamp(wanted[0], UTC) if np.isfinite(wanted[0]) else None
        until = datetime.fromtimestamp(wanted[1], UTC)
        self._task = asyncio.get_running_loop().create_task(
            self._load_window(self.vehicle_id, self.loader, since, until), name="chart detail"
        )

    async def _load_window(
        self, vehicle_id: int, loader: SeriesLoader, since: datetime | None, until: datetime
    ) -> None:
        try:
            data = _chart_data(await loader(vehicle_id, since, until))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("loading chart detail of vehicle %s failed", vehicle_id)
            return
        if vehicle_id != self.vehicle_id:
            return
        self._draw(data, y_auto=False)
        self.detail_loaded.emit(vehicle_id)

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
        for key in self._shown:
            plot = self.plots[key]
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                self.hover.setText(self.hover_text(key, x))
                return

    def closeEvent(self, event: QCloseEvent) -> None:
        self._detail_timer.stop()
        if self._task is not None:
            self._task.cancel()
        super().closeEvent(event)


def _chart_data(result: ChartData | dict[str, Series]) -> ChartData:
    """Loaders may hand back plain raw series (tests, simple sources) or ChartData."""
    if isinstance(result, ChartData):
        return result
    count = max((len(t) for t, _v in result.values()), default=0)
    return ChartData(result, count, True)


def _covered(data: ChartData) -> tuple[float, float]:
    """The time span the drawn data stands for: the asked range, or (for "All") from the
    first drawn point on."""
    starts = [t[0] for t, _v in data.series.values() if len(t)]
    lo = data.since.timestamp() if data.since else min(starts, default=-np.inf)
    hi = (
        data.until.timestamp()
        if data.until
        else max((t[-1] for t, _v in data.series.values() if len(t)), default=np.inf)
    )
    return float(lo), float(hi)
