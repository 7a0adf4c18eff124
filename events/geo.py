"""Distances on the Earth for ``near=lat,lon,km``, in SQL both databases run.

A circle's events are first bounded by the box around it, which the coordinate indexes answer
(``Event.Meta.indexes``), then kept by their great-circle distance from the centre (haversine,
on a sphere of the Earth's mean radius: within 0.5% of the WGS 84 ellipsoid's distances).

**Dense places on SQLite.** A box or circle of events newest first has two plans: find its
events by coordinates and sort them, or walk the date order (whose index holds the
coordinates) until the page is full. PostgreSQL picks from its statistics of the
coordinates. SQLite keeps none (its builds leave out STAT4), so it always takes the
coordinates, and a 20-degree box around the front sorts a fifth of all events for one page.
There, :func:`walk_finds` samples the newest events to estimate how many rows the walk would
read, and :func:`unindexed` keeps the coordinates' index out of the plan when that is cheaper.

**Latitude strips on SQLite.** An index that begins with the latitude reads every event of a
box's band of latitudes, around the world, to find those of its longitudes. SQLite also
indexes events by strips of a quarter degree of latitude, then longitude
(``event_strip_place_idx``, migration 0013): :func:`in_strips` names the strips a place
spans, and each is read only across the place's longitudes.
"""

import math

from django.db import connections
from django.db.models import ExpressionWrapper, F, FloatField, Func, IntegerField, Q, Value
from django.db.models.functions import Cos, Power, Sin

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
DEGREE = math.pi / 180  # in radians
# The farthest two points can be: half the circumference.
FARTHEST_KM = math.pi * EARTH_RADIUS_KM


def between(field: str, low: float, high: float) -> Q:
    return Q(**{f"{field}__gte": low, f"{field}__lte": high})


def box(min_lon, min_lat, max_lon, max_lat, fields=("latitude", "longitude")) -> Q:
    """Rows whose coordinates (``fields``: the latitude's and longitude's names) lie in the box."""
    lat_field, lon_field = fields
    return between(lon_field, min_lon, max_lon) & between(lat_field, min_lat, max_lat)


def bounding_box(latitude: float, longitude: float, km: float, fields=("latitude", "longitude")) -> Q:
    """The coordinates within ``km`` of the point lie in this box (two across the antimeridian;
    a band of latitudes around a pole); ``fields``: the names of the latitude and longitude."""
    lat_field, lon_field = fields
    angle = km / EARTH_RADIUS_KM  # radians of arc
    low, high = latitudes_within(latitude, km)
    if low <= -90 or high >= 90 or angle >= math.pi / 2:
        return between(lat_field, max(low, -90), min(high, 90))
    # The widest longitude the circle reaches, at the latitude where it touches its meridians.
    reach = math.sin(angle) / math.cos(math.radians(latitude))
    latitudes = between(lat_field, low, high)
    if reach >= 1:
        return latitudes
    width = math.degrees(math.asin(reach))
    west, east = longitude - width, longitude + width
    if west < -180:
        return latitudes & (Q(**{f"{lon_field}__gte": west + 360}) | Q(**{f"{lon_field}__lte": east}))
    if east > 180:
        return latitudes & (Q(**{f"{lon_field}__gte": west}) | Q(**{f"{lon_field}__lte": east - 360}))
    return latitudes & between(lon_field, west, east)


def latitudes_within(latitude: float, km: float) -> tuple[float, float]:
    """The lowest and highest latitude within ``km`` of a point at ``latitude`` (past a pole:
    beyond ±90)."""
    span = math.degrees(km / EARTH_RADIUS_KM)
    return latitude - span, latitude + span


def nearness(latitude: float, longitude: float):
    """The haversine of each row's ``latitude``/``longitude``'s angular distance from the point:
    it grows with the great-circle distance, so it filters and orders as the distance does,
    without the square root and arcsine the distance itself takes (``haversine_of``)."""
    lat, lon = math.radians(latitude), math.radians(longitude)
    # Degrees times pi/180: what RADIANS() computes on both databases, without a function call.
    here_lat, here_lon = F("latitude") * Value(DEGREE), F("longitude") * Value(DEGREE)
    return ExpressionWrapper(
        Power(Sin((here_lat - Value(lat)) / 2), 2)
        + Value(math.cos(lat)) * Cos(here_lat) * Power(Sin((here_lon - Value(lon)) / 2), 2),
        output_field=FloatField(),
    )


def haversine_of(km: float) -> float:
    """The ``nearness`` of a point ``km`` away."""
    return math.sin(min(km / EARTH_RADIUS_KM, math.pi) / 2) ** 2


def within(latitude: float, longitude: float, km: float, fields=("latitude", "longitude")) -> Q:
    """Rows within ``km`` of the point (``nearness`` must be annotated as ``distance``)."""
    return bounding_box(latitude, longitude, km, fields) & Q(distance__lte=haversine_of(km))


# Dense places on SQLite ---------------------------------------------------------------------

# The newest (or oldest) events sampled, and the most rows of the date order worth walking for
# a page: about 6 ms on SQLite (60 ns a row of the covering index), while sorting a dense
# box's events takes tens of milliseconds.
SAMPLE_ROWS = 4096
WALK_BUDGET = 100_000


class Unindexed(Func):
    """``+column``: the same value, but SQLite cannot answer a condition on it by an index."""

    template = "+%(expressions)s"
    output_field = FloatField()


# The names under which ``unindexed`` aliases the coordinates.
UNINDEXED = ("unindexed_latitude", "unindexed_longitude")


def unindexed(queryset):
    """``queryset`` with the coordinates aliased as ``UNINDEXED``, for conditions that must not
    use the coordinates' index."""
    latitude, longitude = UNINDEXED
    return queryset.alias(**{latitude: Unindexed("latitude"), longitude: Unindexed("longitude")})


def walk_finds(queryset, inside: Q, rows: int, descending: bool = True) -> bool:
    """Whether walking the events in date order (newest first if ``descending``) is estimated
    to find ``rows`` rows ``inside`` the place within ``WALK_BUDGET`` rows: from how many of
    the first ``SAMPLE_ROWS`` rows of that order lie inside. Always false but on SQLite."""
    connection = connections[queryset.db]
    if connection.vendor != "sqlite":
        return False
    model = queryset.model
    sign = "-" if descending else ""
    sample = model._base_manager.order_by(f"{sign}start_date", f"{sign}pk").values("latitude", "longitude")
    sample_sql, sample_params = sample[:SAMPLE_ROWS].query.sql_with_params()
    probe = model._base_manager.filter(inside).query
    where, where_params = probe.get_compiler(connection=connection).compile(probe.where)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        # The conditions name the table's columns, which the sample's alias stands for.
        cursor.execute(f"SELECT count(*) FROM ({sample_sql}) AS {table} WHERE {where}", (*sample_params, *where_params))
        (hits,) = cursor.fetchone()
    return hits > 0 and rows * SAMPLE_ROWS / hits <= WALK_BUDGET


# Whole strips per degree of latitude: the index's expression, which a query must repeat as is
# (a literal, not a parameter) for SQLite to use the index.
STRIPS_PER_DEGREE = 4
STRIP_INDEX = "event_strip_place_idx"
# Past this many strips (50 degrees of latitude), a place's band holds most events anyway.
MOST_STRIPS = 200


class LatitudeStrip(Func):
    """The strip of ``STRIPS_PER_DEGREE`` a latitude lies in: its multiple truncated toward
    zero, so that a range of latitudes spans a range of strips."""

    template = f"CAST(%(expressions)s * {STRIPS_PER_DEGREE} AS INTEGER)"
    output_field = IntegerField()


def strips(low: float, high: float) -> range:
    """The strips that the latitudes from ``low`` to ``high`` lie in (as ``LatitudeStrip``)."""
    low, high = max(low, -90), min(high, 90)
    return range(int(low * STRIPS_PER_DEGREE), int(high * STRIPS_PER_DEGREE) + 1)


def in_strips(queryset, low: float, high: float):
    """``queryset`` kept to the strips of the latitudes from ``low`` to ``high``, on SQLite (a
    condition that the place's own conditions imply, which lets SQLite read the strip index)."""
    spanned = strips(low, high)
    if connections[queryset.db].vendor != "sqlite" or len(spanned) > MOST_STRIPS:
        return queryset
    return queryset.alias(latitude_strip=LatitudeStrip("latitude")).filter(latitude_strip__in=list(spanned))
