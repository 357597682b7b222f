"""Zone polygons: every unusable outline is refused with its reason, nothing else is."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.models.zones import ZoneInvalid, ZoneShape, validated

SQUARE = [(13.40, 52.52), (13.41, 52.52), (13.41, 52.53), (13.40, 52.53)]


def zone(ring, name="Mitte", kind="parking") -> ZoneShape:
    return ZoneShape(None, name, kind, ring)


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        (zone(SQUARE, name="  "), "The zone needs a name."),
        (zone(SQUARE, kind="garage"), "Unknown zone kind 'garage'"),
        (zone(SQUARE[:2]), "at least 3 distinct points; this one has 2"),
        (zone([SQUARE[0], SQUARE[1], SQUARE[0]]), "at least 3 distinct points; this one has 2"),
        (zone([(13.40, 52.52), (13.41, 52.53), (13.42, 52.54)]), "lie on one line"),
        (zone([SQUARE[0], SQUARE[2], SQUARE[1], SQUARE[3]]), "crosses itself near 13.405000"),
        (zone([(13.4, 52.5), (181.0, 52.5), (13.4, 52.6)]), "Point 2 (181, 52.5) is off the globe"),
        (zone([(13.4, 52.5), (13.5, -90.5), (13.4, 52.6)]), "Point 2 (13.5, -90.5) is off"),
        (zone([(13.4, 52.5), (math.nan, 52.5), (13.4, 52.6)]), "Point 2 is not a finite"),
        (zone([(13.4, 52.5), (13.5,), (13.4, 52.6)]), "Point 2 is not a longitude, latitude"),
    ],
)
def test_each_unusable_zone_is_refused_with_its_reason(shape, reason):
    with pytest.raises(ZoneInvalid) as refused:
        validated(shape)
    assert reason in refused.value.reason


def test_a_closed_geojson_ring_and_doubled_points_are_normalised():
    good = validated(zone([*SQUARE[:2], SQUARE[1], *SQUARE[2:], SQUARE[0]], name=" Mitte "))
    assert good.ring == SQUARE and good.name == "Mitte"


lons = st.floats(-179.0, 179.0)
lats = st.floats(-80.0, 80.0)


@given(lon=lons, lat=lats, radius=st.floats(1e-4, 0.5), corners=st.integers(3, 40))
def test_any_regular_polygon_on_the_globe_is_accepted_unchanged(lon, lat, radius, corners):
    ring = [
        (
            lon + radius * math.cos(2 * math.pi * i / corners),
            lat + radius * math.sin(2 * math.pi * i / corners),
        )
        for i in range(corners)
    ]
    assert validated(zone(ring)).ring == ring


@given(lon=lons, lat=lats, a=st.floats(-1, 1), b=st.floats(1e-3, 1), n=st.integers(3, 12))
def test_points_on_one_line_are_always_refused(lon, lat, a, b, n):
    ring = [(lon + b * i / n, lat + a * b * i / n) for i in range(n)]
    with pytest.raises(ZoneInvalid, match=r"lie on one line|at least 3 distinct"):
        validated(zone(ring))


@given(
    lon=lons,
    lat=lats,
    size=st.floats(1e-3, 0.5),
    bad=st.tuples(st.floats(180.001, 1e6) | st.floats(-1e6, -180.001), lats),
    at=st.integers(0, 3),
)
def test_a_point_off_the_globe_is_refused_wherever_it_is(lon, lat, size, bad, at):
    ring = [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size)]
    ring[at] = bad
    with pytest.raises(ZoneInvalid, match=f"Point {at + 1} .* is off the globe"):
        validated(zone(ring))


@given(lon=lons, lat=lats, size=st.floats(1e-3, 0.5))
def test_a_bow_tie_always_crosses_itself(lon, lat, size):
    ring = [(lon, lat), (lon + size, lat + size), (lon + size, lat), (lon, lat + size)]
    with pytest.raises(ZoneInvalid, match="crosses itself"):
        validated(zone(ring))
