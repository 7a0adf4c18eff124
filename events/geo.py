"""Distances on the Earth for ``near=lat,lon,km``, in SQL both databases run.

A circle's events are first bounded by the box around it, which the coordinate indexes answer
(``Event.Meta.indexes``), then kept by their great-circle distance from the centre (haversine,
on a sphere of the Earth's mean radius: within 0.5% of the WGS 84 ellipsoid's distances).
"""

import math

from django.db.models import ExpressionWrapper, F, FloatField, Q, Value
from django.db.models.functions import ASin, Cos, Least, Power, Radians, Sin, Sqrt

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


def distance_km(latitude: float, longitude: float):
    """The great-circle distance in km from the point to each row's ``latitude``/``longitude``."""
    lat, lon = math.radians(latitude), math.radians(longitude)
    here_lat, here_lon = Radians(F("latitude")), Radians(F("longitude"))
    half_chord = Power(Sin((here_lat - Value(lat)) / 2), 2) + Value(math.cos(lat)) * Cos(here_lat) * Power(
        Sin((here_lon - Value(lon)) / 2), 2
    )
    # Rounding can take the chord a hair past the diameter, out of ASIN's domain.
    return ExpressionWrapper(
        Value(2 * EARTH_RADIUS_KM) * ASin(Sqrt(Least(half_chord, Value(1.0)))), output_field=FloatField()
    )


def within(latitude: float, longitude: float, km: float) -> Q:
    """Rows within ``km`` of the point (``distance`` must be the alias of ``distance_km``)."""
    return bounding_box(latitude, longitude, km) & Q(distance__lte=km)
