import orjson
from drf_orjson_renderer.renderers import ORJSONRenderer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.viewsets import ModelViewSet

from .. import filtersets, history, selectors
from ..counts import CitationCount
from ..filtersets import MAX_ID
from ..models import CasualtyReportLink, EventLink, Source, Unit, UnitPosition
from . import pgjson, serializers
from .conditional import ConditionalRequestMixin
from .exports import CSVRenderer, ExportMixin, GeoJSONRenderer, STIXRenderer, track_lines
from .filter_backends import GLOBAL_QUERY_PARAMETERS, check_query_parameters, list_values, pagination_parameters
from .pagination import DeletionPagination
from .rows import RowReader


class RowListMixin:
    """Lists read by a ``RowReader``: the page's ids with the list's filters, then its records.

    Two steps, so that the filters, the count and the offset walk only an index, and the
    records' columns, status and inline lists are read for the rows on the page alone.
    """

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        ids = self.paginator.paginate_ids(queryset.values_list("pk", flat=True), request)
        return self.get_paginated_response(self.records(ids))

    def records(self, ids):
        """The representations of the records with these ids, in this order (a deleted one left
        out). For a JSON response on PostgreSQL, the JSON texts PostgreSQL wrote (pgjson.py),
        which the renderer splices in as they are; otherwise dicts built from rows."""
        reader = self.row_reader()
        queryset = self.representation_queryset()
        if self.writes_json():
            texts = pgjson.records(reader, queryset, ids, self.statement_shape())
            if texts is not None:
                return [orjson.Fragment(text) for text in texts]
        return reader.page(queryset, ids)

    def versioned_record(self, pk):
        """(updated_at, representation) of one record, read in one query, as ``records()`` reads it;
        None when it does not exist, and NotImplemented where only ``records()`` can read it
        (not PostgreSQL's JSON)."""
        if not self.writes_json():
            return NotImplemented
        found = pgjson.records(
            self.row_reader(), self.representation_queryset(), [pk], self.statement_shape(), versioned=True
        )
        if found is None:
            return NotImplemented
        if not found:
            return None
        updated_at, text = found[0]
        return updated_at, orjson.Fragment(text)

    def writes_json(self):
        return isinstance(getattr(self.request, "accepted_renderer", None), ORJSONRenderer)

    def statement_shape(self):
        # Without known_at the queryset is the view's own: its statement can be kept.
        return None if self.known_at() else type(self)

    def row_reader(self):
        return RowReader(self.get_serializer_class(), self.request, self.format_kwarg)

    def known_at(self):
        """The day of ``?known_at=``, from the FilterSet the filter backend validated, if any."""
        filterset = getattr(self, "filterset", None)
        return filterset.form.cleaned_data.get("known_at") if filterset is not None else None

    def representation_queryset(self):
        """The queryset a page's records are read from: annotations and inline lists, as of known_at."""
        queryset = self.get_queryset()
        known_at = self.known_at()
        if known_at:
            queryset = selectors.as_known_at(queryset, known_at=known_at)
        return queryset


class RecordViewSet(ExportMixin, RowListMixin, ConditionalRequestMixin, ModelViewSet):
    """CRUD with ETags and ``If-Match``, each record's edit history, and CSV export."""

    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    def unfiltered(self):
        """A record by its id, without query parameters: nothing to filter."""
        return self.action != "list" and not set(self.request.query_params) - GLOBAL_QUERY_PARAMETERS

    def filter_queryset(self, queryset):
        # Unfiltered, skip building the list's FilterSet. With parameters (known_at, or a
        # misspelt one) it runs as usual.
        if self.unfiltered():
            check_query_parameters(self.request, GLOBAL_QUERY_PARAMETERS)
            return queryset
        return super().filter_queryset(queryset)

    @extend_schema(
        responses=serializers.HistoryEntrySerializer(many=True),
        description=(
            "Every version of this record, newest first: who changed what, when, with the old and new "
            "values, including its citations and units. Still available after the record is deleted."
        ),
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request, pk=None):
        check_query_parameters(request, GLOBAL_QUERY_PARAMETERS)
        try:
            entries = history.record_history(self.get_queryset().model, int(pk))
        except ValueError:
            entries = None
        if entries is None:
            raise NotFound("No record with this id has ever existed.")
        return Response(serializers.HistoryEntrySerializer(entries, many=True).data)


class SourceViewSet(RecordViewSet):
    """Who says things: governments, agencies, officials, media, think tanks, with their reliability."""

    queryset = Source.objects.annotate(citation_count=CitationCount())
    serializer_class = serializers.SourceSerializer
    filterset_class = filtersets.SourceFilterSet


class TrackLinesMixin:
    """``?lines=true`` on a GeoJSON list of positions: each unit's track as a LineString, after the points."""

    def lines_asked(self) -> bool:
        filterset = getattr(self, "filterset", None)
        return filterset is not None and bool(filterset.form.cleaned_data.get("lines"))

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.lines_asked() and (
            self.action not in {"list", "track"} or self.request.accepted_renderer.format != GeoJSONRenderer.format
        ):
            raise ValidationError(
                {"lines": ["Lines are drawn in a list's GeoJSON only: add format=geojson, or leave lines out."]}
            )
        return queryset

    def more_features(self, queryset):
        return track_lines(queryset) if self.lines_asked() else ()


POSITIONS = UnitPosition.objects.select_related("unit", "source")
POSITION_RENDERERS = [*RecordViewSet.renderer_classes, GeoJSONRenderer]


class UnitViewSet(TrackLinesMixin, RecordViewSet):
    """Military formations, named or not, in a hierarchy of any depth."""

    queryset = Unit.objects.select_related("parent")
    serializer_class = serializers.UnitSerializer
    filterset_class = filtersets.UnitFilterSet
    export_actions = RecordViewSet.export_actions | {"track"}

    @extend_schema(
        summary="Track of a unit",
        description=(
            "Where this unit and every unit under it were reported, in date order (then by unit): the positions "
            "of /api/unit-positions/, with the same filters and formats. With format=geojson and lines=true, "
            "each unit's positions are also joined into a LineString."
        ),
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The unit's id.")],
        responses=serializers.UnitPositionSerializer(many=True),
    )
    @action(
        detail=True,
        methods=["get"],
        queryset=POSITIONS,
        serializer_class=serializers.UnitPositionSerializer,
        filterset_class=filtersets.UnitTrackFilterSet,
        renderer_classes=POSITION_RENDERERS,
    )
    def track(self, request, pk=None):
        return self.list(request)

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "track":
            queryset = queryset.order_by("date", "unit_id", "pk")
        return queryset

    def filter_queryset(self, queryset):
        if self.action == "track":
            # Here, not in get_queryset: a page's records are read from get_queryset by their ids,
            # on PostgreSQL in a statement kept for every request of this view (pgjson.py), which
            # must not hold one unit's subtree.
            queryset = queryset.filter(unit_id__in=self.track_units())
        return super().filter_queryset(queryset)

    def track_units(self) -> list[int]:
        """The ids of the unit in the path and of every unit under it; a 404 when there is no such unit."""
        try:
            pk = int(self.kwargs["pk"])
        except ValueError:
            pk = 0
        ids = selectors.unit_subtree_ids(pk) if 0 < pk <= MAX_ID else []
        if not ids:
            raise NotFound("No unit with this id.")
        return ids


class EventViewSet(RecordViewSet):
    """Things that happened at a place during a date interval, with the units involved and their sources."""

    queryset = selectors.event_list()
    renderer_classes = [*RecordViewSet.renderer_classes, GeoJSONRenderer, STIXRenderer]
    serializer_class = serializers.EventSerializer
    filterset_class = filtersets.EventFilterSet


class CasualtyReportViewSet(RecordViewSet):
    """Claims about losses: each figure with its range, kind, dates, credibility and who made it."""

    queryset = selectors.casualty_report_list()
    renderer_classes = [*RecordViewSet.renderer_classes, STIXRenderer]
    serializer_class = serializers.CasualtyReportSerializer
    filterset_class = filtersets.CasualtyReportFilterSet


class UnitPositionViewSet(TrackLinesMixin, RecordViewSet):
    """Where units were reported, day by day, and by whom: a unit's positions in date order are its track."""

    queryset = POSITIONS
    renderer_classes = POSITION_RENDERERS
    serializer_class = serializers.UnitPositionSerializer
    filterset_class = filtersets.UnitPositionFilterSet


class CasualtyReportLinkViewSet(RecordViewSet):
    """One casualty report confirming, disputing, superseding, revising or retracting another."""

    queryset = CasualtyReportLink.objects.select_related("source")
    serializer_class = serializers.CasualtyReportLinkSerializer
    filterset_class = filtersets.CasualtyReportLinkFilterSet


class EventLinkViewSet(RecordViewSet):
    """One event report confirming, disputing, superseding, revising or retracting another."""

    queryset = EventLink.objects.select_related("source")
    serializer_class = serializers.EventLinkSerializer
    filterset_class = filtersets.EventLinkFilterSet


class DeletionQuerySerializer(drf_serializers.Serializer):
    since = drf_serializers.DateTimeField(required=False, help_text="Only deletions at or after this ISO 8601 time.")
    resource = drf_serializers.MultipleChoiceField(
        choices=sorted(history.RESOURCES), required=False, help_text="Only deletions from these lists."
    )


class DeletionListView(ListAPIView):
    """Records deleted and not restored since, for mirrors: drop these ids, then fetch ``modified_since``."""

    serializer_class = serializers.DeletionSerializer
    permission_classes = [AllowAny]
    filter_backends = []
    pagination_class = DeletionPagination

    @extend_schema(
        summary="List deleted records",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Only deletions at or after this time."),
            OpenApiParameter(
                "resource",
                OpenApiTypes.STR,
                enum=sorted(history.RESOURCES),
                many=True,
                explode=False,
                description="Only deletions from these lists: a comma-separated list, or the parameter repeated.",
            ),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        check_query_parameters(self.request, {"since", "resource", *pagination_parameters(self)}, lists={"resource"})
        params = self.request.query_params
        data = {"resource": list_values(params, "resource")}
        if "since" in params:
            data["since"] = params["since"]
        query = DeletionQuerySerializer(data=data)
        query.is_valid(raise_exception=True)
        return history.deletions(
            since=query.validated_data.get("since"),
            resources=query.validated_data.get("resource"),
            after=self.paginator.cursor(self.request),
        )


@extend_schema(summary="Get an API token")
class TokenView(ObtainAuthToken):
    """The API token of a user, given their username and password: send it as ``Authorization: Token <key>``."""

    # Anyone may ask; the username and password are the credentials. A stale token sent along
    # must not stand in the way of getting a new one. DRF's view is not throttled; password
    # guessing should be.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = api_settings.DEFAULT_THROTTLE_CLASSES
