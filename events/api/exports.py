"""Exports of the lists in the formats other tools read, with the filters of the JSON lists.

``?format=csv`` (or ``Accept: text/csv``) on any list and ``?format=geojson`` on events and unit
positions are streamed, so that a million rows never sit in memory; without ``limit`` every
matching row is exported; unit positions' GeoJSON can add each unit's track as a LineString
(``track_lines``). ``?format=stix`` on events and casualty reports gives one page as a STIX
2.1 bundle (see ``events.stix``).
"""

import csv
import itertools
import json
from http import HTTPStatus

from django.http import StreamingHttpResponse
from django.utils.text import slugify
from rest_framework import renderers, serializers
from rest_framework.relations import HyperlinkedIdentityField
from rest_framework.response import Response
from rest_framework.serializers import ListSerializer

from ..models import Event
from ..stix import stix_bundle
from .conditional import etag_for
from .copy import copy_csv
from .csvformat import LIST_SEPARATOR, csv_timestamp, escape_name, list_ids_column
from .fields import NestedRelatedField
from .rows import child_querysets

CHUNK_SIZE = 2000
# Lines end in LF, as PostgreSQL's COPY writes them (see copy.py), on every database.
LINE_END = "\n"


class CSVRenderer(renderers.BaseRenderer):
    """Renders one record (a detail view) as CSV; lists are streamed by ``ExportMixin``."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        view = renderer_context["view"]
        columns = Columns(view.get_serializer())
        buffer = EchoBuffer()
        writer = csv.writer(buffer, lineterminator=LINE_END)
        return writer.writerow(columns.header) + writer.writerow(columns.row(data))


class GeoJSONRenderer(renderers.JSONRenderer):
    media_type = "application/geo+json"
    format = "geojson"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        columns = Columns(renderer_context["view"].get_serializer())
        return json.dumps(feature(data, columns)).encode()


STIX_CONTENT_TYPE = "application/stix+json;version=2.1"


class STIXRenderer(renderers.JSONRenderer):
    # Content negotiation matches the bare type; responses name the version (see _stix_page).
    media_type = "application/stix+json"
    format = "stix"


class EchoBuffer:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value):
        return value


class Columns:
    """Flattens a serializer's representation into one row of scalar columns.

    A nested object becomes ``<field>_id`` and ``<field>_name``. An inline list (citations,
    units) becomes two columns: ``name (role)`` items and, beside them, the ids of the same
    items' sources or units (``citations_source_ids``, ``units_ids``), both joined by
    ``LIST_SEPARATOR``. Times are written in ``TIMESTAMP_FORMAT``.
    """

    def __init__(self, serializer):
        self.fields = list(serializer.fields.items())
        self.header = []
        for name, field in self.fields:
            if isinstance(field, NestedRelatedField):
                self.header += [f"{name}_id", f"{name}_name"]
            elif isinstance(field, ListSerializer):
                self.header += [name, list_ids_column(name, field)]
            else:
                self.header.append(name)

    def row(self, data):
        values = []
        for name, field in self.fields:
            value = data.get(name)
            if isinstance(field, NestedRelatedField):
                values += [value and value["id"], value and (value.get("name") or value.get("title"))]
            elif isinstance(field, HyperlinkedIdentityField) and value:
                # DRF carries ?format=csv into the links; the record's address is without it.
                values.append(value.split("?", 1)[0])
            elif isinstance(field, ListSerializer):
                nested = [(item, item.get("source") or item.get("unit") or {}) for item in value or ()]
                values.append(
                    LIST_SEPARATOR.join(f"{escape_name(n.get('name', ''))} ({i.get('role', '')})" for i, n in nested)
                )
                values.append(LIST_SEPARATOR.join(str(n.get("id", "")) for _, n in nested))
            elif isinstance(field, serializers.DateTimeField) and value:
                values.append(csv_timestamp(value))
            elif isinstance(value, (list, dict)):
                values.append(json.dumps(value, ensure_ascii=False))
            else:
                values.append(value)
        return values

    def as_dict(self, data):
        return dict(zip(self.header, self.row(data), strict=True))


def feature(data, columns):
    latitude, longitude = data.get("latitude"), data.get("longitude")
    geometry = None if latitude is None else {"type": "Point", "coordinates": [longitude, latitude]}
    return {"type": "Feature", "id": data["id"], "geometry": geometry, "properties": columns.as_dict(data)}


def track_lines(queryset):
    """One GeoJSON LineString feature per unit through the positions of ``queryset`` in date order,
    read unit by unit (constant memory); a unit with a single position has no line."""
    if queryset.query.is_sliced:  # a page of the list: its positions, reordered
        queryset = queryset.model.objects.filter(pk__in=queryset.values("pk"))
    rows = queryset.order_by("unit_id", "date", "pk").values_list(
        "unit_id", "unit__name", "date", "longitude", "latitude"
    )
    for unit_id, positions in itertools.groupby(rows.iterator(chunk_size=CHUNK_SIZE), key=lambda row: row[0]):
        positions = list(positions)
        if len(positions) < 2:
            continue
        yield {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[lon, lat] for *_, lon, lat in positions]},
            "properties": {
                "unit_id": unit_id,
                "unit_name": positions[0][1],
                "first_date": positions[0][2].isoformat(),
                "last_date": positions[-1][2].isoformat(),
                "positions": len(positions),
            },
        }


EXPORT_FORMATS = {"csv", "geojson", "stix"}


class ExportMixin:
    """Streams CSV or GeoJSON for a list when the client asks for that format."""

    # The actions that answer in the export formats: lists (and a unit's track) and records.
    export_actions = frozenset({"list", "retrieve"})

    def get_renderers(self):
        # Exports are views of what is stored: reads only, and not of a record's history.
        renderers = super().get_renderers()
        action = getattr(self, "action", None)
        if action in self.export_actions or action is None:  # None: a method the view has not, a 405
            return renderers
        return [renderer for renderer in renderers if renderer.format not in EXPORT_FORMATS]

    def list(self, request, *args, **kwargs):
        if request.accepted_renderer.format == "stix":
            return self._stix_page(request)
        export = {"csv": self._stream_csv, "geojson": self._stream_geojson}.get(request.accepted_renderer.format)
        if export is None:
            return super().list(request, *args, **kwargs)
        queryset = self.filter_queryset(self.get_queryset())
        if self.paginator.limit_query_param in request.query_params:
            offset = self.paginator.get_offset(request)
            queryset = queryset[offset : offset + self.paginator.get_limit(request)]
        columns = Columns(self.get_serializer())
        basename = slugify(queryset.model._meta.verbose_name_plural)
        response = StreamingHttpResponse(export(queryset, columns), content_type=request.accepted_renderer.media_type)
        response["Content-Disposition"] = f'attachment; filename="{basename}.{request.accepted_renderer.format}"'
        return response

    def retrieve(self, request, *args, **kwargs):
        if request.accepted_renderer.format != "stix":
            return super().retrieve(request, *args, **kwargs)
        obj = self.get_object()
        etag = etag_for(obj)
        if self.unmodified(etag):
            return Response(status=HTTPStatus.NOT_MODIFIED, headers={"ETag": etag})
        argument = "events" if isinstance(obj, Event) else "casualty_reports"
        return Response(stix_bundle(**{argument: [obj]}), content_type=STIX_CONTENT_TYPE, headers={"ETag": etag})

    def _stix_page(self, request):
        """One page of the list as a STIX 2.1 bundle; the next and previous pages go in a Link header."""
        queryset = self.filter_queryset(self.get_queryset())
        page = list(self.paginate_queryset(queryset))
        known_at = self.known_at()
        argument = "events" if queryset.model is Event else "casualty_reports"
        response = Response(stix_bundle(**{argument: page}, known_at=known_at), content_type=STIX_CONTENT_TYPE)
        links = [
            f'<{url}>; rel="{rel}"'
            for rel, url in (("next", self.paginator.get_next_link()), ("prev", self.paginator.get_previous_link()))
            if url
        ]
        if links:
            response["Link"] = ", ".join(links)
        return response

    def _stream_csv(self, queryset, columns):
        writer = csv.writer(EchoBuffer(), lineterminator=LINE_END)
        yield writer.writerow(columns.header)
        reader = self.row_reader()
        blocks = copy_csv(queryset, self.get_serializer(), reader.urls, child_querysets(queryset))
        if blocks is not None:
            yield from blocks
            return
        for data in reader.stream(queryset, chunk_size=CHUNK_SIZE):
            yield writer.writerow(columns.row(data))

    def _stream_geojson(self, queryset, columns):
        yield '{"type": "FeatureCollection", "features": ['
        separator = ""
        for data in self.row_reader().stream(queryset, chunk_size=CHUNK_SIZE):
            yield separator + json.dumps(feature(data, columns), ensure_ascii=False)
            separator = ","
        for extra in self.more_features(queryset):
            yield separator + json.dumps(extra, ensure_ascii=False)
            separator = ","
        yield "]}"

    def more_features(self, queryset):
        """Features after the records' own in a GeoJSON list (a unit's track, ``track_lines``); none here."""
        return ()

    def handle_exception(self, exc):
        # Errors are JSON whatever format was asked for, so clients can read what went wrong.
        renderer = getattr(self.request, "accepted_renderer", None)
        if renderer is not None and renderer.format in EXPORT_FORMATS:
            self.request.accepted_renderer = renderers.JSONRenderer()
            self.request.accepted_media_type = renderers.JSONRenderer.media_type
        return super().handle_exception(exc)
