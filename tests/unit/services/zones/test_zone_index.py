"""The zone index: hysteresis by the GPS margin, in metres wherever the zone is."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.models.zones import ZoneShape
from app.services.zones.index import ZoneIndex, distance_m, metres_per_degree


def square(zone_id: int, lon: float, lat: float, side_m: float, kind="parking") -> ZoneShape:
    """A square zone with its west edge at ``lon``, ``side_m`` metres a side."""
    per_lon, per_lat = metres_per_degree(lat)
    w, h = side_m / per_lon, side_m / per_lat
    return ZoneShape(
        zone_id,
        f"Z{zone_id}",
        kind,
        [(lon, lat), (lon + w, lat), (lon + w, lat + h), (lon, lat + h)],
    )


def east_of(lon: float, lat: float, metres: float) -> float:
    """The longitude ``metres`` east of ``lon`` (west when negative)."""
    return lon + metres / metres_per_degree(lat)[0]


@pytest.mark.parametrize("lat", [0.5, 52.5, 69.6])  # equator, Berlin, Tromsø
def test_entering_needs_the_margin_inside_and_leaving_the_margin_outside(lat):
    zone = square(1, 10.0, lat, 400.0)
    index = ZoneIndex([zone], margin_m=15.0)
    mid = lat + 200.0 / metres_per_degree(lat)[1]
    at = lambda metres: east_of(10.0, lat, metres)  # noqa: E731 - metres from the west edge
    outside = frozenset[int]()
    inside = frozenset({1})
    assert index.step(at(10.0), mid, outside) == outside  # 10 m in: not clearly inside
    assert index.step(at(20.0), mid, outside) == inside  # 20 m in: entered
    assert index.step(at(-10.0), mid, inside) == inside  # 10 m out: not clearly outside
    assert index.step(at(-20.0), mid, inside) == outside  # 20 m out: left
    assert index.step(at(5.0), mid, None) == inside  # first seen: the zone's own outline
    assert index.step(at(-5.0), mid, None) == outside


@given(
    start_in=st.booleans(),
    jitter=st.lists(st.floats(-14.0, 14.0), min_size=1, max_size=60),
)
def test_jitter_across_a_border_by_less_than_the_margin_changes_nothing(start_in, jitter):
    index = ZoneIndex([square(1, 13.4, 52.5, 300.0)], margin_m=15.0)
    mid = 52.5 + 150.0 / metres_per_degree(52.5)[1]
    state = frozenset({1}) if start_in else frozenset()
    for metres in jitter:  # around the west edge, never the margin away from it
        assert index.step(east_of(13.4, 52.5, metres), mid, state) == state


def test_a_zone_narrower_than_twice_the_margin_is_entered_by_its_own_outline():
    index = ZoneIndex([square(1, 13.4, 52.5, 20.0)], margin_m=15.0)
    centre = (east_of(13.4, 52.5, 10.0), 52.5 + 10.0 / metres_per_degree(52.5)[1])
    assert index.step(*centre, frozenset()) == {1}


def test_a_batch_answers_like_single_checks_and_overlapping_zones_both_count():
    zones = [square(1, 13.40, 52.50, 500.0, "service_area"), square(2, 13.402, 52.501, 100.0)]
    index = ZoneIndex(zones, margin_m=15.0)
    points = [(13.4027, 52.5015), (13.401, 52.5005), (13.30, 52.40), (13.4027, 52.5015)]
    before = [frozenset(), None, frozenset({1, 2}), frozenset({2})]
    batch = index.step_many([p[0] for p in points], [p[1] for p in points], before)
    assert batch == [index.step(*p, b) for p, b in zip(points, before, strict=True)]
    assert batch == [{1, 2}, {1}, set(), {1, 2}]


def test_check_out_distance_and_the_benefit_of_the_doubt():
    zone = square(7, 13.40, 52.52, 100.0)
    index = ZoneIndex([zone], margin_m=15.0)
    mid = 52.52 + 50.0 / metres_per_degree(52.52)[1]
    assert index.containing(east_of(13.40, 52.52, -10.0), mid, "parking") == [zone]
    assert index.containing(east_of(13.40, 52.52, -20.0), mid, "parking") == []
    assert index.containing(east_of(13.40, 52.52, -10.0), mid, "no_parking") == []
    nearest = index.nearest(east_of(13.40, 52.52, -120.0), mid, "parking")
    assert (
        nearest is not None and nearest[0] == zone and nearest[1] == pytest.approx(120.0, rel=0.01)
    )
    assert distance_m(zone, east_of(13.40, 52.52, 30.0), mid) == 0.0


def test_metres_per_degree_follows_the_ellipsoid():
    per_lon, per_lat = metres_per_degree(0.0)
    assert per_lat == pytest.approx(110_574, abs=2) and per_lon == pytest.approx(111_320, abs=2)
    per_lon, per_lat = metres_per_degree(60.0)
    assert per_lat == pytest.approx(111_412, abs=2)
    assert per_lon == pytest.approx(111_320 * math.cos(math.radians(60)), rel=0.003)


def test_no_zones_means_in_none():
    assert ZoneIndex([], 15.0).step_many([13.4, 13.5], [52.5, 52.6], [None, frozenset()]) == [
        frozenset(),
        frozenset(),
    ]
