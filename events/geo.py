"""Distances on the Earth for ``near=lat,lon,km``, in SQL both databases run.

A circle's events are first bounded by the box around it, which the coordinate indexes answer
(``Event.Meta.indexes``), then kept by their great-circle distance from the centre (haversine,
on a sphere of the Earth's mean radius: within 0.5% of the WGS 84 ellipsoid's distances).
"""

import math

from django.db.models import ExpressionWrapper, F, FloatField, Q, Value
from django.db.models.functions import Cos, Power, Radians, Sin

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
# The farthest two points can be: half the circumference.
FARTHEST_KM = math.pi * EARTH_RADIUS_KM


def bounding_box(latitude: float, longitude: float, km: float) -> Q:
    """The coordinates within ``km`` of the point lie in this box (two across the antimeridian;
    a band of latitudes around a pole)."""
    angle = km / EARTH_RADIUS_KM  # radians of arc
    span = math.degrees(angle)
    low, high = latitude - span, latitude + span
    if low <= -90 or high >= 90 or angle >= math.pi / 2:
        return Q(latitude__gte=max(low, -90), latitude__lte=min(high, 90))
    # The widest longitude the circle reaches, at the latitude where it touches its meridians.
    reach = math.sin(angle) / math.cos(math.radians(latitude))
    if reach >= 1:
        return Q(latitude__gte=low, latitude__lte=high)
    width = math.degrees(math.asin(reach))
    west, east = longitude - width, longitude + width
    latitudes = Q(latitude__gte=low, latitude__lte=high)
    if west < -180:
        return latitudes & (Q(longitude__gte=west + 360) | Q(longitude__lte=east))
    if east > 180:
        return latitudes & (Q(longitude__gte=west) | Q(longitude__lte=east - 360))
    return latitudes & Q(longitude__gte=west, longitude__lte=east)


def nearness(latitude: float, longitude: float):
    """The haversine of each row's ``latitude``/``longitude``'s angular distance from the point:
    it grows with the great-circle distance, so it filters and orders as the distance does,
    without the square root and arcsine the distance itself takes (``haversine_of``)."""
    lat, lon = math.radians(latitude), math.radians(longitude)
    here_lat, here_lon = Radians(F("latitude")), Radians(F("longitude"))
    return ExpressionWrapper(
        Power(Sin((here_lat - Value(lat)) / 2), 2)
        + Value(math.cos(lat)) * Cos(here_lat) * Power(Sin((here_lon - Value(lon)) / 2), 2),
        output_field=FloatField(),
    )


def haversine_of(km: float) -> float:
    """The ``nearness`` of a point ``km`` away."""
    return math.sin(min(km / EARTH_RADIUS_KM, math.pi) / 2) ** 2


def within(latitude: float, longitude: float, km: float) -> Q:
    """Rows within ``km`` of the point (``nearness`` must be annotated as ``distance``)."""
    return bounding_box(latitude, longitude, km) & Q(distance__lte=haversine_of(km))
