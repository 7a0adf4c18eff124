from django.db.models import Prefetch
from rest_framework.viewsets import ModelViewSet

from .. import filtersets
from ..models import CasualtyReport, Citation, Event, EventUnit, Source, Unit
from ..selectors import citation_count
from . import serializers

# Citations are always shown with their source, so fetch both in one query per page.
CITATIONS = Prefetch("citations", queryset=Citation.objects.select_related("source"))


class SourceViewSet(ModelViewSet):
    """Who says things: governments, agencies, officials, media, think tanks, with their reliability."""

    queryset = Source.objects.annotate(citation_count=citation_count("source"))
    serializer_class = serializers.SourceSerializer
    filterset_class = filtersets.SourceFilterSet


class UnitViewSet(ModelViewSet):
    """Military formations, named or not, in a hierarchy of any depth."""

    queryset = Unit.objects.select_related("parent")
    serializer_class = serializers.UnitSerializer
    filterset_class = filtersets.UnitFilterSet


class EventViewSet(ModelViewSet):
    """Things that happened at a place during a date interval, with the units involved and their sources."""

    queryset = Event.objects.prefetch_related(
        Prefetch("event_units", queryset=EventUnit.objects.select_related("unit")), CITATIONS
    )
    serializer_class = serializers.EventSerializer
    filterset_class = filtersets.EventFilterSet


class CasualtyReportViewSet(ModelViewSet):
    """Claims about losses: each figure with its range, kind, dates, credibility and who made it."""

    queryset = CasualtyReport.objects.select_related("unit", "event").prefetch_related(CITATIONS)
    serializer_class = serializers.CasualtyReportSerializer
    filterset_class = filtersets.CasualtyReportFilterSet
