"""The admin that staff curators use to enter and correct data.

Validation lives in the models' ``clean()`` and constraints, which the admin's ModelForms run.
Every changelist runs a fixed number of queries: related rows come through
``list_select_related`` and counts through ``get_queryset`` annotations, never per row.
"""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django_countries.filters import CountryFilter

from .models import CasualtyReport, Citation, Event, EventUnit, Source, Unit, figure_range
from .selectors import citation_count, unit_subtree_ids

admin.site.site_header = "OSINT conflict events"
admin.site.site_title = "OSINT conflict events"
admin.site.index_title = "Curation"

RECORD_FIELDSET = ("Record", {"fields": (("created_at", "updated_at"),), "classes": ("collapse",)})
IMPORTED_RECORD_FIELDSET = (
    "Record",
    {"fields": ("external_id", ("created_at", "updated_at")), "classes": ("collapse",)},
)


class WithinUnitFilter(admin.SimpleListFilter):
    """Rows on a top-level unit or any unit under it, at any depth.

    Only top-level units are offered, which keeps the sidebar short; any unit id works in
    ``?within=``.
    """

    title = "within unit"
    parameter_name = "within"

    def lookups(self, request, model_admin):
        return Unit.objects.filter(parent__isnull=True).order_by("name", "pk").values_list("pk", "name")

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        try:
            unit_id = int(self.value())
        except ValueError:
            raise IncorrectLookupParameters(f"“within” takes a unit id, not {self.value()!r}.") from None
        return queryset.filter(self.condition(unit_subtree_ids(unit_id)))

    def condition(self, subtree_ids):
        raise NotImplementedError


class UnitWithinFilter(WithinUnitFilter):
    def condition(self, subtree_ids):
        return Q(pk__in=subtree_ids)


class EventWithinFilter(WithinUnitFilter):
    def condition(self, subtree_ids):
        # Exists rather than a join, so an event with several matching units is listed once.
        return Q(Exists(EventUnit.objects.filter(event=OuterRef("pk"), unit_id__in=subtree_ids)))


class CasualtyReportWithinFilter(WithinUnitFilter):
    def condition(self, subtree_ids):
        return Q(unit_id__in=subtree_ids)


class CitationCountMixin:
    """A sortable citation-count column that costs no query per row."""

    citation_subject = None  # the Citation field pointing at this model

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(citation_count=citation_count(self.citation_subject))

    @admin.display(ordering="citation_count", description="citations")
    def citation_count(self, obj):
        return obj.citation_count


# Curators paste addresses without a scheme; today's sites are HTTPS (Django 6.0's default too).
URL_FORMFIELD_OVERRIDES = {models.URLField: {"assume_scheme": "https"}}


class TimestampedAdmin(admin.ModelAdmin):
    readonly_fields = ("created_at", "updated_at")
    formfield_overrides = URL_FORMFIELD_OVERRIDES


class CitationInline(admin.StackedInline):
    """Citations of an event or a casualty report; the subject is the parent form's record."""

    model = Citation
    extra = 0
    formfield_overrides = URL_FORMFIELD_OVERRIDES
    autocomplete_fields = ("source",)
    fields = (("source", "role"), ("url", "title"), ("published_date", "accessed_date", "archive_url"), "quote")


class EventUnitInline(admin.TabularInline):
    model = EventUnit
    extra = 0
    autocomplete_fields = ("unit",)
    fields = ("unit", "role")


@admin.register(Source)
class SourceAdmin(CitationCountMixin, TimestampedAdmin):
    citation_subject = "source"
    list_display = ("name", "kind", "country", "reliability", "citation_count")
    list_filter = ("kind", "reliability", ("country", CountryFilter))
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "kind", "country", "homepage", "reliability", "description")}),
        RECORD_FIELDSET,
    )


@admin.register(Unit)
class UnitAdmin(TimestampedAdmin):
    list_display = ("name", "echelon", "country", "parent", "status", "strength")
    list_filter = ("echelon", "status", ("country", CountryFilter), UnitWithinFilter)
    list_select_related = ("parent",)
    search_fields = ("name", "aliases", "branch")
    autocomplete_fields = ("parent",)
    fieldsets = (
        (None, {"fields": ("name", "aliases", "country", "echelon", "branch", "parent", "status", "description")}),
        ("Strength", {"fields": (("strength_low", "strength_best", "strength_high"),)}),
        RECORD_FIELDSET,
    )

    @admin.display(ordering="strength_best", description="strength")
    def strength(self, obj):
        return figure_range(obj.strength_low, obj.strength_best, obj.strength_high)


@admin.register(Event)
class EventAdmin(CitationCountMixin, TimestampedAdmin):
    citation_subject = "event"
    list_display = ("title", "type", "start_date", "end_date", "date_precision", "country", "admin1", "citation_count")
    list_filter = (
        "type",
        "date_precision",
        "expected",
        ("country", CountryFilter),
        "location_precision",
        EventWithinFilter,
    )
    search_fields = ("title", "place_name", "admin1")
    date_hierarchy = "start_date"
    inlines = (EventUnitInline, CitationInline)
    fieldsets = (
        (None, {"fields": ("title", "type", "description")}),
        ("When", {"fields": (("start_date", "end_date"), ("date_precision", "date_text"), "expected")}),
        (
            "Where",
            {
                "fields": (
                    ("place_name", "admin1", "country"),
                    ("latitude", "longitude", "location_precision"),
                )
            },
        ),
        ("Personnel", {"fields": (("personnel_low", "personnel_best", "personnel_high"),)}),
        IMPORTED_RECORD_FIELDSET,
    )


@admin.register(CasualtyReport)
class CasualtyReportAdmin(CitationCountMixin, TimestampedAdmin):
    citation_subject = "casualty_report"
    list_display = (
        "summary",
        "country",
        "category",
        "low",
        "best",
        "high",
        "kind",
        "as_of_date",
        "credibility",
        "unit",
        "event",
        "citation_count",
    )
    list_filter = (
        "category",
        "kind",
        "credibility",
        "date_precision",
        ("country", CountryFilter),
        CasualtyReportWithinFilter,
    )
    list_select_related = ("unit", "event")
    search_fields = ("description", "date_text", "unit__name", "event__title")
    autocomplete_fields = ("unit", "event")
    date_hierarchy = "as_of_date"
    inlines = (CitationInline,)
    fieldsets = (
        (None, {"fields": (("category", "kind", "credibility"), ("country", "unit", "event"), "description")}),
        ("Figure", {"fields": (("low", "best", "high"),)}),
        (
            "Dates",
            {
                "fields": (
                    ("as_of_date", "period_start", "horizon_date"),
                    ("date_precision", "date_text"),
                )
            },
        ),
        IMPORTED_RECORD_FIELDSET,
    )

    @admin.display(description="summary")
    def summary(self, obj):
        return str(obj)


@admin.register(Citation)
class CitationAdmin(TimestampedAdmin):
    """Browse and correct citations across subjects; they are usually entered inline."""

    list_display = ("source", "role", "subject", "source_reliability", "title", "published_date")
    list_filter = ("role", "source__reliability")
    list_select_related = ("source", "event", "casualty_report__unit")
    search_fields = ("quote", "title", "url")
    autocomplete_fields = ("event", "casualty_report", "source")
    fieldsets = (
        (None, {"fields": (("event", "casualty_report"), ("source", "role"))}),
        (
            "Where it was said",
            {
                "fields": (
                    "url",
                    "title",
                    ("published_date", "accessed_date"),
                    "archive_url",
                    "quote",
                )
            },
        ),
        RECORD_FIELDSET,
    )

    @admin.display(description="cited in")
    def subject(self, obj):
        return obj.event or obj.casualty_report

    @admin.display(ordering="source__reliability", description="source reliability")
    def source_reliability(self, obj):
        return obj.source.get_reliability_display()
