"""``/api/consensus/``: what the sources say about each subject, and how much they agree.

The computation is ``events.consensus``; this module reads the request, pages the subjects
and writes the answer. The serializers below are the answer's definition for the schema;
the answer itself is built as plain data (a series is subjects × periods × claims, which DRF's
field-by-field rendering would spend most of the request on), and the tests compare the two.
"""

import datetime

from django.db.models import Q
from django.utils import timezone
from drf_orjson_renderer.renderers import ORJSONRenderer
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.settings import api_settings

from .. import choices, consensus
from ..collector import collector_paused
from ..filtersets import ConsensusFilterSet
from ..models import CasualtyReport, Event, Source, Unit
from .charts import ChartRenderer, PNGRenderer, SVGRenderer
from .fields import RecordURLField
from .pagination import LimitOffsetPagination
from .serializers import EventBriefSerializer, SourceBriefSerializer, UnitBriefSerializer


class ClaimantSerializer(SourceBriefSerializer):
    class Meta(SourceBriefSerializer.Meta):
        fields = (*SourceBriefSerializer.Meta.fields, "party")


class StandingClaimSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField(help_text="The casualty report.")
    claimant = ClaimantSerializer(allow_null=True, help_text="Who makes the claim; null if no source is cited.")
    confirmed_by = ClaimantSerializer(many=True, help_text="Sources cited as confirming it.")
    kind = serializers.ChoiceField(choices=choices.FigureKind.choices)
    date = serializers.DateField(
        help_text="The date the claim is compared by: its as_of_date, else the day it became known."
    )
    low = serializers.IntegerField(allow_null=True)
    best = serializers.IntegerField(allow_null=True)
    high = serializers.IntegerField(allow_null=True)
    as_of_date = serializers.DateField(allow_null=True)
    period_start = serializers.DateField(allow_null=True)
    horizon_date = serializers.DateField(allow_null=True, help_text="For projections: by when.")
    date_precision = serializers.ChoiceField(choices=choices.DatePrecision.choices)
    date_text = serializers.CharField(allow_blank=True)
    credibility = serializers.ChoiceField(choices=choices.Credibility.choices)
    status = serializers.ChoiceField(choices=choices.ClaimStatus.choices, help_text="As of known_at, if given.")


class EnvelopeSerializer(serializers.Serializer):
    low = serializers.IntegerField(help_text="The lowest figure any standing report allows.")
    high = serializers.IntegerField(allow_null=True, help_text="The highest; null when one has no upper bound.")


class AgreementSerializer(serializers.Serializer):
    low = serializers.IntegerField()
    high = serializers.IntegerField(allow_null=True, help_text="Null: no upper bound.")
    claims = serializers.IntegerField(help_text="How many standing reports' ranges hold these figures.")


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField(allow_null=True, help_text="First day of the period; null for one date (as_of).")
    end = serializers.DateField(help_text="The day the claims are compared on.")
    grade = serializers.ChoiceField(choices=choices.ConsensusGrade.choices, help_text="See the operation's rules.")
    claimants = serializers.IntegerField(help_text="Distinct sources claiming or confirming a standing claim.")
    independent_claimants = serializers.IntegerField(help_text="Of them, those that speak for no party.")
    party_claimants = serializers.IntegerField(help_text="Of them, those that speak for a party to the conflict.")
    envelope = EnvelopeSerializer(allow_null=True)
    agreement = AgreementSerializer(allow_null=True, help_text="Null unless two reports' ranges share a figure.")
    weighted_median = serializers.FloatField(allow_null=True, help_text="Of the best figures, by reliability.")
    spread = serializers.FloatField(allow_null=True, help_text="The highest best figure over the lowest.")
    standing = serializers.IntegerField(help_text="How many claims stand on the day (reports, projections, denials).")
    claims = StandingClaimSerializer(
        many=True,
        help_text=(
            "Standing reports of what happened (counts, estimates). In a series, those that did not stand at the "
            "end of the period before: each claim is listed where it comes to stand."
        ),
    )
    projections = StandingClaimSerializer(many=True, help_text="Standing projections, with their horizons (likewise).")
    denials = StandingClaimSerializer(many=True, help_text="Standing denials (likewise).")


class SubjectSerializer(serializers.Serializer):
    country = serializers.CharField(allow_blank=True, help_text="Whose losses (ISO 3166-1 alpha-2; blank: several).")
    category = serializers.ChoiceField(choices=choices.CasualtyCategory.choices)
    equipment_type = serializers.ChoiceField(
        choices=choices.EquipmentType.choices,
        allow_blank=True,
        help_text="For losses of equipment: what kind of materiel; blank for losses of personnel.",
    )
    unit = UnitBriefSerializer(allow_null=True)
    event = EventBriefSerializer(allow_null=True)


class ConsensusSerializer(serializers.Serializer):
    subject = SubjectSerializer()
    periods = PeriodSerializer(many=True, help_text="One for as_of; one per period of a series, in order.")


class SubjectPagination(LimitOffsetPagination):
    """Pages of subjects (``limit`` counts subjects, whatever the number of periods)."""

    cursor_query_param = None

    @staticmethod
    def _table_estimate(connection, model):
        return None  # the table's row count is not the number of its subjects


CONSENSUS_DESCRIPTION = """\
For each subject, the claims that stand on a date and how they relate; with `interval`, one row per subject and
period, each compared as of the period's end.

A **subject** is what claims can be compared about: whose losses (`country`), what losses (`category`, and for
equipment its `equipment_type`), and the unit and the event they concern, if any. A claim about one brigade is
not compared with one about the whole contingent, nor a figure for one event with a running total. Claims that
name a system (`equipment_name`: an item of a list, or one model's figure) are not totals and are left out.
`limit` and `offset` page the subjects.

A claim **stands** on a day when its date (its `as_of_date`, else the day it became known) is on or before it,
no link known by then retracts, supersedes or revises it, and its claimant has made no newer claim by then
(a claimant's latest projection stands beside its latest report). The **claimant** is the source cited as
`claimed_by`; for a claim no one is cited as claiming, the one that `reported_by` it, else the one that
`confirmed_by` it. A source that only reports another's claim is not a claimant. `known_at` narrows it all to
what had been published by then.

- **claimants**: sources claiming or confirming a standing claim; **independent_claimants** those that speak
  for no party to the conflict, **party_claimants** those that do (a source's `party`).
- **envelope**: the lowest and highest figure any standing report allows (`high` null: no upper bound, as
  with "over 4,000"). **agreement**: the figures the most reports' ranges share, with how many; null unless two
  share one. **weighted_median**: of the best figures (else the middle of low and high), weighted by the
  claimant's reliability: A 5, B 4, C 3, D 2, E 1, F 2. **spread**: the highest best figure over the lowest.
- **grade**, the first that applies: `none` (no claim stands); `unquantified` (no standing report or denial has
  a figure); `contested` (two sources' ranges share no figure, a denial stands against a report of losses, or a
  standing report is disputed by a link or a citation); `single_source`; `corroborated` (two or more sources
  whose ranges share a figure, at least one of them independent and one usually reliable, A or B);
  `consistent` (their ranges share a figure, but not corroborated).

Projections and denials are listed apart; the envelope, agreement, median and spread are those of the reports.
`format=svg` or `format=png` draws the answer: one panel per subject, each claim at its date with its range,
coloured by claimant, the agreement as a band, projections dashed."""


@extend_schema(summary="Compare what the sources say", description=CONSENSUS_DESCRIPTION)
class ConsensusView(ListAPIView):
    """What the sources say about each subject on a date, or period by period, and how much they agree."""

    queryset = CasualtyReport.objects.filter(consensus.COMPARED)
    serializer_class = ConsensusSerializer
    filterset_class = ConsensusFilterSet
    pagination_class = SubjectPagination
    permission_classes = [AllowAny]
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, SVGRenderer, PNGRenderer]

    def handle_exception(self, exc):
        # Errors are JSON whatever picture was asked for, so clients can read what went wrong.
        renderer = getattr(self.request, "accepted_renderer", None)
        if isinstance(renderer, ChartRenderer):
            self.request.accepted_renderer = ORJSONRenderer()
            self.request.accepted_media_type = ORJSONRenderer.media_type
        return super().handle_exception(exc)

    def list(self, request, *args, **kwargs):
        claims = self.filter_queryset(self.get_queryset())
        data = self.filterset.form.cleaned_data
        periods = self.compared_periods(data)
        # Claims dated after the last day compared cannot stand on it.
        last = periods[-1].end
        subjects = consensus.subjects_of(claims.filter(Q(as_of_date__lte=last) | Q(as_of_date__isnull=True)))
        page = self.paginate_queryset(subjects)
        subjects = [consensus.Subject(*(row[name] for name in consensus.SUBJECT_FIELDS)) for row in page]
        with collector_paused():
            representation = Representation(request)
            results = consensus.consensus(
                claims,
                subjects=subjects,
                periods=periods,
                known_at=data.get("known_at"),
                sources=representation.claimants,
            )
            return self.get_paginated_response(representation.subjects(results))

    def compared_periods(self, data):
        today = timezone.now().date()
        interval, date_from, date_to, as_of = (data.get(name) for name in ("interval", "date_from", "date_to", "as_of"))
        if not interval:
            for name in ("date_from", "date_to"):
                if data.get(name):
                    raise ValidationError({name: ["A window is for a series: give interval too."]})
            return [consensus.Period(None, as_of or today)]
        if as_of:
            raise ValidationError({"as_of": ["A series compares as of each period's end: leave out as_of."]})
        if not date_from:
            raise ValidationError({"date_from": ["A series needs its first day."]})
        date_to = date_to or today
        if date_from > date_to:
            raise ValidationError({"date_to": ["The series cannot end before it starts."]})
        result = consensus.periods(interval, date_from, date_to)
        if len(result) > consensus.MAX_PERIODS:
            raise ValidationError(
                {"interval": [f"{len(result)} periods; at most {consensus.MAX_PERIODS}: a longer interval."]}
            )
        return result


class Representation:
    """Writes the answer as ``ConsensusSerializer`` describes it, with the records it names read
    in one query per kind (units, events, sources)."""

    def __init__(self, request):
        self.request, self.sources = request, {}
        self.report_url = RecordURLField.template("api:casualtyreport-detail", request)

    def subjects(self, results: list[consensus.SubjectConsensus]) -> list[dict]:
        units = self.briefs(Unit, UnitBriefSerializer, {r.subject.unit_id for r in results})
        events = self.briefs(Event, EventBriefSerializer, {r.subject.event_id for r in results})
        return [
            {
                "subject": {
                    "country": result.subject.country,
                    "category": result.subject.category,
                    "equipment_type": result.subject.equipment_type,
                    "unit": units.get(result.subject.unit_id),
                    "event": events.get(result.subject.event_id),
                },
                "periods": [self.period(period, standing, summary) for period, standing, summary in result.periods],
            }
            for result in results
        ]

    def claimants(self, ids) -> dict:
        """The claimants' and confirmers' briefs, which hold what the consensus reads of them too."""
        self.sources = self.briefs(Source, ClaimantSerializer, ids)
        return self.sources

    def briefs(self, model, serializer_class, ids) -> dict:
        """The brief representations of these records by id, as ``serializer_class`` writes them:
        its fields read with one ``values()`` query, its address filled into a template (a page of
        a country's figures names thousands of sources; DRF would spend most of the request here)."""
        ids = {pk for pk in ids if pk is not None}
        if not ids:
            return {}
        fields = serializer_class.Meta.fields
        before, after = RecordURLField.template(serializer_class._declared_fields["url"].view_name, self.request)
        result = {}
        for row in model.objects.filter(pk__in=ids).values(*(name for name in fields if name != "url")):
            row["url"] = f"{before}/{row['id']}/{after}"
            result[row["id"]] = {name: _plain(row[name]) for name in fields}
        return result

    def period(self, period, standing, summary) -> dict:
        claims = {
            kind: [self.claim(claim, standing) for claim in standing.new if claim["kind"] in kinds]
            for kind, kinds in (
                ("claims", consensus.REPORT_KINDS),
                ("projections", {choices.FigureKind.PROJECTION}),
                ("denials", {choices.FigureKind.DENIAL}),
            )
        }
        return {"start": _iso(period.start), "end": _iso(period.end), **summary, **claims}

    def claim(self, claim, standing) -> dict:
        before, after = self.report_url
        makers = standing.makers(claim)
        listed = {
            "id": claim["id"],
            "url": f"{before}/{claim['id']}/{after}",
            "claimant": self.sources.get(makers[0]),
            "confirmed_by": [self.sources[key] for key in makers[1:]],
            **claim,
        }
        del listed["makers"]
        return listed


def _plain(value):
    return value.isoformat() if isinstance(value, datetime.date) else value


def _iso(day: datetime.date | None):
    return None if day is None else day.isoformat()
