from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.urls import reverse
from django.utils import timezone
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from . import choices


def range_constraints(model_name, prefix, what):
    """CheckConstraints that keep ``<prefix>_low <= <prefix>_best <= <prefix>_high``.

    Each bound is optional, so every comparison holds when either side is NULL.
    """
    low, best, high = (f"{prefix}{bound}" for bound in ("low", "best", "high"))
    pairs = ((low, best), (best, high), (low, high))
    return [
        models.CheckConstraint(
            condition=Q(**{f"{a}__isnull": True}) | Q(**{f"{b}__isnull": True}) | Q(**{f"{a}__lte": F(b)}),
            name=f"{model_name}_{a}_lte_{b}",
            violation_error_message=f"The {what} {a.removeprefix(prefix)} exceeds the {b.removeprefix(prefix)}.",
        )
        for a, b in pairs
    ]


def figure_range(low, best, high):
    """``10,000–12,000 (best 11,000)``, ``≥ 4,000``, ``≤ 300`` or ``500``; None when all are empty."""
    if low is not None and high is not None and low != high:
        text = f"{low:,}–{high:,}"
        return text if best is None else f"{text} (best {best:,})"
    if best is not None:
        return f"{best:,}"
    if low is not None:
        return f"≥ {low:,}"
    if high is not None:
        return f"≤ {high:,}"
    return None


class UnicodeJSONEncoder(DjangoJSONEncoder):
    """Stores text as written ("Штурмовой корпус", not ``\\u0428...``) so SQLite can search it."""

    def __init__(self, *args, **kwargs):
        kwargs["ensure_ascii"] = False
        super().__init__(*args, **kwargs)


def validate_range(obj, prefix, what):
    """Field-keyed errors for a low/best/high triple, mirroring ``range_constraints``."""
    low, best, high = (getattr(obj, f"{prefix}{bound}") for bound in ("low", "best", "high"))
    errors = {}
    if best is not None and low is not None and low > best:
        errors[f"{prefix}low"] = f"The {what} low ({low}) is greater than its best ({best})."
    if best is not None and high is not None and best > high:
        errors[f"{prefix}high"] = f"The {what} high ({high}) is less than its best ({best})."
    if low is not None and high is not None and low > high:
        errors.setdefault(f"{prefix}high", f"The {what} high ({high}) is less than its low ({low}).")
    return errors


def external_id_constraint(model_name):
    """Imported records are unique by their dataset id, so a re-import updates instead of duplicating."""
    return models.UniqueConstraint(
        fields=["external_id"],
        condition=~Q(external_id=""),
        name=f"{model_name}_unique_external_id",
        violation_error_message="Another record was already imported with this external id.",
    )


def is_list_of_strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, help_text="When this record was created.")
    updated_at = models.DateTimeField(auto_now=True, db_index=True, help_text="When this record was last changed.")

    class Meta:
        abstract = True


class Source(TimestampedModel):
    """Who originates or publishes information: a ministry, a newspaper, a think tank."""

    name = models.CharField(max_length=200, help_text="Full name, e.g. “National Intelligence Service”.")
    aliases = models.JSONField(
        default=list,
        db_default=Value([], output_field=models.JSONField()),
        blank=True,
        encoder=UnicodeJSONEncoder,
        help_text="Other names the source goes by (“UK MoD”), as a list of strings: search and imports match them.",
    )
    slug = models.SlugField(max_length=100, unique=True, help_text="Short stable identifier used in URLs and exports.")
    kind = models.CharField(
        max_length=20, choices=choices.SourceKind.choices, db_index=True, help_text="What kind of source this is."
    )
    country = CountryField(
        blank=True, db_index=True, help_text="ISO 3166-1 alpha-2 code of the country the source belongs to."
    )
    homepage = models.URLField(blank=True, help_text="Home page of the source.")
    description = models.TextField(
        blank=True, help_text="Who the source is and anything that bears on its reliability."
    )
    reliability = models.CharField(
        max_length=1,
        choices=choices.Reliability.choices,
        default=choices.Reliability.F,
        db_index=True,
        help_text="Reliability on the NATO Admiralty scale, A (completely reliable) to F (cannot be judged).",
    )
    party = models.BooleanField(
        default=False,
        db_default=False,
        help_text=(
            "Speaks for a party to the conflict (a belligerent's government, forces or officials): "
            "consensus counts such claimants apart from independent ones."
        ),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reliability__in=choices.Reliability.values),
                name="source_reliability_valid",
                violation_error_message="Reliability must be a letter from A to F.",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("api:source-detail", args=[self.pk])

    def clean(self):
        if not is_list_of_strings(self.aliases):
            raise ValidationError({"aliases": "Aliases must be a list of strings."})


class Unit(TimestampedModel):
    """A military formation, possibly unnamed, in a hierarchy of any depth."""

    name = models.CharField(max_length=200, help_text="Name, or a description for an unnamed unit.")
    aliases = models.JSONField(
        default=list,
        blank=True,
        encoder=UnicodeJSONEncoder,
        help_text="Other names the unit is known by, as a list of strings.",
    )
    country = CountryField(db_index=True, help_text="ISO 3166-1 alpha-2 code of the country the unit belongs to.")
    echelon = models.CharField(
        max_length=20, choices=choices.Echelon.choices, db_index=True, help_text="Size and level of the formation."
    )
    branch = models.CharField(max_length=100, blank=True, help_text="Service branch, e.g. “ground forces”.")
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        help_text="The formation this unit belongs to.",
    )
    strength_low = models.PositiveIntegerField(null=True, blank=True, help_text="Lowest estimate of personnel.")
    strength_best = models.PositiveIntegerField(null=True, blank=True, help_text="Best estimate of personnel.")
    strength_high = models.PositiveIntegerField(null=True, blank=True, help_text="Highest estimate of personnel.")
    status = models.CharField(
        max_length=20,
        choices=choices.UnitStatus.choices,
        default=choices.UnitStatus.UNKNOWN,
        db_index=True,
        help_text="Current status of the unit.",
    )
    description = models.TextField(blank=True, help_text="Notes on the unit.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            *range_constraints("unit", "strength_", "strength"),
            models.CheckConstraint(
                condition=~Q(parent=F("pk")),
                name="unit_not_own_parent",
                violation_error_message="A unit cannot be its own parent.",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("api:unit-detail", args=[self.pk])

    def clean(self):
        errors = validate_range(self, "strength_", "strength")
        if not is_list_of_strings(self.aliases):
            errors["aliases"] = "Aliases must be a list of strings."
        ancestor, seen = self.parent, set()
        while ancestor is not None and self.pk is not None:
            if ancestor.pk == self.pk:
                errors["parent"] = "A unit cannot be placed under itself or one of its own sub-units."
                break
            if ancestor.pk in seen:
                break
            seen.add(ancestor.pk)
            ancestor = ancestor.parent
        if errors:
            raise ValidationError(errors)


class UnitPosition(TimestampedModel):
    """Where a source placed a unit on a date; a unit's positions in date order are its track."""

    unit = models.ForeignKey(
        Unit,
        on_delete=models.CASCADE,
        db_index=False,  # unitposition_unit_date_idx begins with it
        related_name="positions",
        help_text="The unit reported at this place.",
    )
    date = models.DateField(help_text="The day the unit was reported there.")
    date_precision = models.CharField(
        max_length=20,
        choices=choices.DatePrecision.choices,
        default=choices.DatePrecision.DAY,
        help_text="How exactly the date is known.",
    )
    latitude = models.FloatField(
        validators=[MinValueValidator(-90), MaxValueValidator(90)], help_text="WGS 84 latitude in decimal degrees."
    )
    longitude = models.FloatField(
        validators=[MinValueValidator(-180), MaxValueValidator(180)], help_text="WGS 84 longitude in decimal degrees."
    )
    location_precision = models.CharField(
        max_length=20,
        choices=choices.LocationPrecision.choices,
        default=choices.LocationPrecision.EXACT,
        help_text="How exactly the coordinates locate the unit.",
    )
    strength = models.CharField(
        max_length=100, blank=True, help_text="The unit's strength there as the source wrote it, e.g. “2 BTGs”."
    )
    source = models.ForeignKey(
        Source,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="unit_positions",
        help_text="Who reported the position.",
    )
    source_url = models.URLField(max_length=500, blank=True, help_text="Where the source reported it.")
    source_date = models.DateField(null=True, blank=True, help_text="When the source published it.")
    notes = models.TextField(blank=True, help_text="Anything else the source says about the position.")
    external_id = models.CharField(
        max_length=100,
        blank=True,
        help_text="Id in the dataset this record was imported from; blank if entered here.",
    )

    # History is read by record (id), never filtered by these: their indexes would only slow every write.
    history = HistoricalRecords(no_db_index=["unit", "source", "updated_at"])

    class Meta:
        # A unit's track is its positions in date order.
        ordering = ["unit_id", "date", "id"]
        indexes = [
            # A unit's (or a subtree's) positions in date order, without sorting.
            models.Index(fields=["unit", "date", "id"], name="unitposition_unit_date_idx"),
            # Positions in a box, and in a box during a window.
            models.Index(fields=["latitude", "longitude", "date"], name="unitposition_place_date_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90),
                name="unitposition_latitude_range",
                violation_error_message="Latitude must be between -90 and 90.",
            ),
            models.CheckConstraint(
                condition=Q(longitude__gte=-180, longitude__lte=180),
                name="unitposition_longitude_range",
                violation_error_message="Longitude must be between -180 and 180.",
            ),
            external_id_constraint("unitposition"),
        ]

    def __str__(self):
        return f"{self.unit} on {self.date}"

    def get_absolute_url(self):
        return reverse("api:unitposition-detail", args=[self.pk])


def interval_and_place_constraints(model_name):
    return [
        models.CheckConstraint(
            condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
            name=f"{model_name}_latitude_range",
            violation_error_message="Latitude must be between -90 and 90.",
        ),
        models.CheckConstraint(
            condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
            name=f"{model_name}_longitude_range",
            violation_error_message="Longitude must be between -180 and 180.",
        ),
        models.CheckConstraint(
            condition=Q(latitude__isnull=True, longitude__isnull=True)
            | Q(latitude__isnull=False, longitude__isnull=False),
            name=f"{model_name}_coordinates_paired",
            violation_error_message="Latitude and longitude must be given together.",
        ),
    ]


class Event(TimestampedModel):
    """Something that happened at a place during a date interval."""

    title = models.CharField(max_length=300, help_text="One-line summary of the event.")
    description = models.TextField(blank=True, help_text="What happened, in more detail.")
    type = models.CharField(max_length=20, choices=choices.EventType.choices, help_text="What kind of event this is.")
    start_date = models.DateField(help_text="First day of the interval in which the event happened.")
    end_date = models.DateField(help_text="Last day of the interval; equal to the start date for a single day.")
    date_precision = models.CharField(
        max_length=20,
        choices=choices.DatePrecision.choices,
        default=choices.DatePrecision.DAY,
        help_text="How exactly the interval is known.",
    )
    date_text = models.CharField(
        max_length=200, blank=True, help_text="The date as the source worded it, e.g. “mid-January 2025”."
    )
    expected = models.BooleanField(
        default=False,
        help_text="True when the event is forecast or anticipated by a source rather than reported as having happened.",
    )
    place_name = models.CharField(max_length=200, blank=True, help_text="Name of the place, e.g. “Ramstein Air Base”.")
    admin1 = models.CharField(
        max_length=200, blank=True, help_text="First-level administrative region, e.g. “Kursk Oblast”."
    )
    # Indexed by event_country_start_idx, which begins with it.
    country = CountryField(blank=True, help_text="ISO 3166-1 alpha-2 code of the country where the event happened.")
    latitude = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
        help_text="WGS 84 latitude in decimal degrees.",
    )
    longitude = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
        help_text="WGS 84 longitude in decimal degrees.",
    )
    location_precision = models.CharField(
        max_length=20,
        choices=choices.LocationPrecision.choices,
        blank=True,
        help_text="How exactly the coordinates locate the place.",
    )
    personnel_low = models.PositiveIntegerField(null=True, blank=True, help_text="Lowest figure of personnel involved.")
    personnel_best = models.PositiveIntegerField(null=True, blank=True, help_text="Best figure of personnel involved.")
    personnel_high = models.PositiveIntegerField(
        null=True, blank=True, help_text="Highest figure of personnel involved."
    )
    units = models.ManyToManyField(Unit, through="EventUnit", related_name="events", blank=True)
    external_id = models.CharField(
        max_length=100,
        blank=True,
        help_text="Id in the dataset this record was imported from, e.g. “ucdp-ged:244657”; blank if entered here.",
    )

    # History is read by record (id), never filtered by these: their indexes would only slow every write.
    history = HistoricalRecords(no_db_index=["type", "date_precision", "admin1", "country", "updated_at"])

    class Meta:
        ordering = ["-start_date", "-pk"]
        # Text search indexes (PostgreSQL only) are in migration 0003. Single-column indexes
        # are declared here rather than with db_index, which on PostgreSQL adds a second
        # (varchar_pattern_ops) index to a text column for LIKE, which no filter of these uses.
        indexes = [
            models.Index(fields=["type"], name="event_type_idx"),
            models.Index(fields=["date_precision"], name="event_date_precision_idx"),
            models.Index(fields=["admin1"], name="event_admin1_idx"),
            models.Index(fields=["start_date", "end_date"], name="event_interval_idx"),
            # Events in a box or a circle, from the index alone. A small or sparse box's events
            # are found by coordinates and sorted; a large or dense box's are met walking the
            # default order, whose index holds the coordinates too. The planner picks from the
            # coordinates' statistics.
            models.Index(fields=["latitude", "longitude", "start_date", "id"], name="event_place_date_idx"),
            # The default order, read backwards: first and deep pages walk it without sorting.
            models.Index(fields=["start_date", "id", "latitude", "longitude"], name="event_start_place_idx"),
            # A country's events, newest first; end_date included for date windows (index-only).
            # Descending, so that a count of a window walks from its end into the past and
            # meets the window's events first: a bounded count stops early (see pagination).
            models.Index(
                fields=["country", "-start_date", "-id"], include=["end_date"], name="event_country_start_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__lte=F("end_date")),
                name="event_start_lte_end",
                violation_error_message="The start date must not be after the end date.",
            ),
            *interval_and_place_constraints("event"),
            external_id_constraint("event"),
            *range_constraints("event", "personnel_", "personnel"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("api:event-detail", args=[self.pk])

    def clean(self):
        errors = validate_range(self, "personnel_", "personnel")
        if self.start_date and self.end_date and self.start_date > self.end_date:
            errors["end_date"] = f"The end date ({self.end_date}) is before the start date ({self.start_date})."
        if (self.latitude is None) != (self.longitude is None):
            errors["longitude" if self.longitude is None else "latitude"] = (
                "Latitude and longitude must be given together."
            )
        if errors:
            raise ValidationError(errors)


def touch(model, *pks):
    """Mark records as changed without a new history entry.

    A record's representation includes its citations and the links pointing at it, so when
    those change the record's ``updated_at`` must move too: ETags change and incremental sync
    (``modified_since``) picks the record up.
    """
    pks = [pk for pk in pks if pk is not None]
    if pks:
        model.objects.filter(pk__in=pks).update(updated_at=timezone.now())


class RecordPart(TimestampedModel):
    """A row shown inside other records' representations (a citation, a unit in an event, a link)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        for model, pk in self.subjects():
            touch(model, pk)

    def delete(self, *args, **kwargs):
        subjects = self.subjects()
        result = super().delete(*args, **kwargs)
        for model, pk in subjects:
            touch(model, pk)
        return result

    def subjects(self):
        """(model, pk) of the records whose representation shows this row."""
        raise NotImplementedError


class EventUnit(RecordPart):
    """A unit involved in an event, with the part it played."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="event_units")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="event_units", help_text="The unit involved.")
    role = models.CharField(
        max_length=20,
        choices=choices.UnitRole.choices,
        default=choices.UnitRole.PARTICIPANT,
        help_text="The part the unit played in the event.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["pk"]
        verbose_name = "unit in event"
        verbose_name_plural = "units in event"
        indexes = [models.Index(fields=["event", "id"], include=["unit", "role"], name="eventunit_event_cover_idx")]
        constraints = [
            models.UniqueConstraint(fields=["event", "unit", "role"], name="eventunit_unique_role"),
        ]

    def __str__(self):
        return f"{self.unit} ({self.get_role_display()})"

    def subjects(self):
        return [(Event, self.event_id)]


def equipment_problems(category: str, equipment_type: str, equipment_name: str) -> dict[str, str]:
    """What is wrong with a claim's kind of losses and its equipment, by field (the check constraint's rule)."""
    if equipment_type:
        if category in choices.PERSONNEL_CATEGORIES:
            return {"equipment_type": f"Losses of personnel ({category}) have no equipment type."}
    elif category in choices.EQUIPMENT_CATEGORIES:
        return {"equipment_type": f"Losses of equipment ({category}) need an equipment type."}
    elif equipment_name:
        return {"equipment_type": "An equipment name needs an equipment type."}
    return {}


class CasualtyReport(TimestampedModel):
    """One claim about losses of personnel or of equipment, attributed through its citations.

    An equipment loss is a claim like any other (figure, kind, dates, credibility, citations,
    links, history, consensus) with an ``equipment_type`` and the system's name.
    """

    # Indexed by report_country_asof_idx and report_subject_idx, which begin with it.
    country = CountryField(
        blank=True,
        help_text="ISO 3166-1 alpha-2 code of the country whose losses these are; blank when several (see text).",
    )
    unit = models.ForeignKey(
        Unit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,  # report_unit_asof_idx begins with it
        related_name="casualty_reports",
        help_text="The unit that suffered the losses, if known.",
    )
    event = models.ForeignKey(
        Event,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="casualty_reports",
        help_text="The event the figure covers, if it covers one event.",
    )
    category = models.CharField(
        max_length=20,
        choices=choices.CasualtyCategory.choices,
        help_text="What kind of losses: of personnel (killed, wounded, missing, casualties), of equipment "
        "(destroyed, damaged, abandoned), or either (captured, unspecified).",
    )
    equipment_type = models.CharField(
        max_length=20,
        choices=choices.EquipmentType.choices,
        blank=True,
        help_text="For losses of equipment: what kind of materiel; blank for losses of personnel.",
    )
    equipment_name = models.CharField(
        max_length=200,
        blank=True,
        help_text="For losses of equipment: the system as the source names it, e.g. “T-72B3 obr. 2016”.",
    )
    low = models.PositiveIntegerField(
        null=True, blank=True, db_index=True, help_text="Lowest figure; “over 4,000” has low 4,000."
    )
    best = models.PositiveIntegerField(null=True, blank=True, db_index=True, help_text="Best figure.")
    high = models.PositiveIntegerField(null=True, blank=True, db_index=True, help_text="Highest figure.")
    kind = models.CharField(
        max_length=20,
        choices=choices.FigureKind.choices,
        help_text="Whether the figure is a count, an estimate, a projection or a denial.",
    )
    # Its own index besides the default order's (DESC NULLS LAST): the oldest first (the admin's
    # date drill-down) is another order to PostgreSQL, and SQLite has only this one.
    as_of_date = models.DateField(null=True, blank=True, db_index=True, help_text="Date the figure is as of.")
    period_start = models.DateField(
        null=True, blank=True, help_text="Start of the period a cumulative figure covers (losses since this date)."
    )
    horizon_date = models.DateField(
        null=True, blank=True, help_text="For projections: the date by which the projected losses are expected."
    )
    date_precision = models.CharField(
        max_length=20,
        choices=choices.DatePrecision.choices,
        default=choices.DatePrecision.DAY,
        help_text="How exactly the as-of and horizon dates are known.",
    )
    date_text = models.CharField(
        max_length=200, blank=True, help_text="The dates as the source worded them, e.g. “by mid-April 2025”."
    )
    credibility = models.PositiveSmallIntegerField(
        choices=choices.Credibility.choices,
        default=choices.Credibility.CANNOT_BE_JUDGED,
        db_index=True,
        validators=[MinValueValidator(1), MaxValueValidator(6)],
        help_text="Credibility on the NATO Admiralty scale, 1 (confirmed by other sources) to 6 (cannot be judged).",
    )
    description = models.TextField(blank=True, help_text="What the claim says, in words.")
    external_id = models.CharField(
        max_length=100,
        blank=True,
        help_text="Id in the dataset this record was imported from, e.g. “ucdp-ged:244657”; blank if entered here.",
    )

    history = HistoricalRecords(
        no_db_index=[
            "country",
            "unit",
            "category",
            "low",
            "best",
            "high",
            "kind",
            "as_of_date",
            "credibility",
            "updated_at",
        ]
    )

    class Meta:
        # NULLs last on every database, so undated claims do not crowd the first page.
        ordering = [F("as_of_date").desc(nulls_last=True), "-pk"]
        # The default order's own index (NULLS LAST) and text search are in migration 0003.
        # Single-column indexes of text columns are declared here, as the events' are.
        indexes = [
            models.Index(fields=["category"], name="report_category_idx"),
            # A country's reports in the default order (newest first), and their first and last dates.
            models.Index(fields=["country", "as_of_date", "id"], name="report_country_asof_idx"),
            models.Index(fields=["kind"], name="report_kind_idx"),
            # A unit's (or a subtree's) reports: their ids and order without reading the rows.
            models.Index(fields=["unit", "as_of_date", "id"], name="report_unit_asof_idx"),
            # Consensus: the distinct subjects of a country's (and category's) claims, in order, and
            # every claim of a subject with what consensus reads of it, without the table's rows
            # (a country's own figures are tens of thousands of claims spread over the table).
            models.Index(
                fields=["country", "category", "equipment_type", "unit", "event"],
                include=[
                    "id",
                    "kind",
                    "low",
                    "best",
                    "high",
                    "as_of_date",
                    "period_start",
                    "horizon_date",
                    "date_precision",
                    "date_text",
                    "credibility",
                    "equipment_name",
                ],
                name="report_subject_idx",
            ),  # fmt: skip
        ]
        constraints = [
            *range_constraints("casualtyreport", "", "figure"),
            external_id_constraint("casualtyreport"),
            models.CheckConstraint(
                condition=Q(low__isnull=False) | Q(best__isnull=False) | Q(high__isnull=False) | Q(unit__isnull=False),
                name="casualtyreport_has_figure_or_unit",
                violation_error_message="A casualty report needs a low, best or high figure, or a unit.",
            ),
            models.CheckConstraint(
                condition=Q(credibility__gte=1, credibility__lte=6),
                name="casualtyreport_credibility_range",
                violation_error_message="Credibility must be between 1 and 6.",
            ),
            models.CheckConstraint(
                condition=Q(period_start__isnull=True)
                | Q(as_of_date__isnull=True)
                | Q(period_start__lte=F("as_of_date")),
                name="casualtyreport_period_start_lte_as_of",
                violation_error_message="The period cannot start after the as-of date.",
            ),
            models.CheckConstraint(
                condition=(Q(equipment_type="", equipment_name="") & ~Q(category__in=choices.EQUIPMENT_CATEGORIES))
                | (~Q(equipment_type="") & ~Q(category__in=choices.PERSONNEL_CATEGORIES)),
                name="casualtyreport_equipment_category",
                violation_error_message=(
                    "Losses of equipment (destroyed, damaged, abandoned) need an equipment type; losses of "
                    "personnel (killed, wounded, missing, casualties) have none; an equipment name needs a type."
                ),
            ),
        ]

    def __str__(self):
        figure = figure_range(self.low, self.best, self.high) or str(self.unit or "no figure")
        what = self.get_category_display()
        if self.equipment_type:
            what = f"{self.equipment_name or self.get_equipment_type_display()}, {self.category}"
        return f"{what}: {figure}" + (f" ({self.country.code})" if self.country else "")

    def get_absolute_url(self):
        return reverse("api:casualtyreport-detail", args=[self.pk])

    def clean(self):
        errors = validate_range(self, "", "figure")
        if self.low is None and self.best is None and self.high is None and self.unit_id is None:
            errors["best"] = "Give a low, best or high figure, or a unit (e.g. for a unit reported destroyed)."
        if self.period_start and self.as_of_date and self.period_start > self.as_of_date:
            errors["period_start"] = "The period cannot start after the as-of date."
        errors.update(equipment_problems(self.category, self.equipment_type, self.equipment_name))
        if errors:
            raise ValidationError(errors)


class Attribution(RecordPart):
    """Who said something, where and when, in their own words."""

    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="%(class)ss", help_text="The source cited."
    )
    url = models.URLField(max_length=500, blank=True, help_text="Where the source said it.")
    title = models.CharField(max_length=300, blank=True, help_text="Title of the article, statement or document.")
    published_date = models.DateField(null=True, blank=True, db_index=True, help_text="When the source published it.")
    accessed_date = models.DateField(null=True, blank=True, help_text="When it was last read at the URL.")
    archive_url = models.URLField(max_length=500, blank=True, help_text="An archived copy of the URL.")
    quote = models.TextField(blank=True, help_text="The exact words of the source.")

    class Meta:
        abstract = True


class Citation(Attribution):
    """Ties an event or a casualty report to a source, in a role, with the exact quote."""

    # Indexed by the covering indexes below, which begin with them.
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, null=True, blank=True, db_index=False, related_name="citations"
    )
    casualty_report = models.ForeignKey(
        CasualtyReport, on_delete=models.CASCADE, null=True, blank=True, db_index=False, related_name="citations"
    )
    role = models.CharField(
        max_length=20,
        choices=choices.CitationRole.choices,
        help_text="What the source did: claimed, reported, confirmed or disputed it.",
    )
    evidence_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="An image or video that shows what the claim says (e.g. the photograph confirming a loss).",
    )

    # A record's history reads its citations' by event or report: those stay indexed.
    history = HistoricalRecords(no_db_index=["source", "published_date", "updated_at"])

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["source", "role"], name="citation_source_role_idx"),
            # A page's (or an export's) citations in order, with what a list shows of them and
            # what its status needs, without reading the rows (PostgreSQL; SQLite omits INCLUDE).
            # With the dates, so that what a claim's citations say as of known_at (and a consensus'
            # claimants and dates) is read from the index alone.
            models.Index(
                fields=["event", "id"],
                include=["source", "role", "published_date", "created_at"],
                name="citation_event_cover_idx",
            ),
            models.Index(
                fields=["casualty_report", "id"],
                include=["source", "role", "published_date", "created_at"],
                name="citation_report_cover_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(event__isnull=False, casualty_report__isnull=True)
                | Q(event__isnull=True, casualty_report__isnull=False),
                name="citation_exactly_one_subject",
                violation_error_message="A citation belongs to exactly one event or casualty report.",
            ),
        ]

    def __str__(self):
        return f"{self.get_role_display()} {self.source}"

    def subjects(self):
        return [(Event, self.event_id), (CasualtyReport, self.casualty_report_id)]


class ClaimLink(Attribution):
    """One claim confirming, disputing, superseding, revising or retracting another, and who says so."""

    relation = models.CharField(
        max_length=20,
        choices=choices.LinkRelation.choices,
        help_text="How the newer claim (from_claim) bears on the other (to_claim).",
    )

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.from_claim} {self.relation} {self.to_claim}"

    def subjects(self):
        model = type(self)._meta.get_field("to_claim").related_model
        return [(model, self.from_claim_id), (model, self.to_claim_id)]

    def clean(self):
        if self.from_claim_id is not None and self.from_claim_id == self.to_claim_id:
            raise ValidationError({"to_claim": "A claim cannot be linked to itself."})


def claim_link_constraints(model_name):
    return [
        models.CheckConstraint(
            condition=~Q(from_claim=F("to_claim")),
            name=f"{model_name}_not_to_itself",
            violation_error_message="A claim cannot be linked to itself.",
        ),
        models.UniqueConstraint(
            fields=["from_claim", "to_claim", "relation"],
            name=f"{model_name}_unique",
            violation_error_message="These two claims are already linked this way.",
        ),
    ]


class CasualtyReportLink(ClaimLink):
    from_claim = models.ForeignKey(
        CasualtyReport,
        on_delete=models.CASCADE,
        related_name="outgoing_links",
        help_text="The newer claim: the one that confirms, disputes, supersedes, revises or retracts.",
    )
    to_claim = models.ForeignKey(
        CasualtyReport, on_delete=models.CASCADE, related_name="incoming_links", help_text="The claim it bears on."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["pk"]
        verbose_name = "casualty report link"
        constraints = claim_link_constraints("casualtyreportlink")


class EventLink(ClaimLink):
    from_claim = models.ForeignKey(
        Event,
        on_delete=models.CASCADE,
        related_name="outgoing_links",
        help_text="The newer event report: the one that confirms, disputes, supersedes, revises or retracts.",
    )
    to_claim = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="incoming_links", help_text="The event report it bears on."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["pk"]
        verbose_name = "event link"
        constraints = claim_link_constraints("eventlink")
