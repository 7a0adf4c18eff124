"""The admin that staff curators use to enter and correct data.

Validation lives in the models' ``clean()`` and constraints, which the admin's ModelForms run.
Every changelist runs a fixed number of queries: related rows come through
``list_select_related`` and counts through ``get_queryset`` annotations, never per row.

Nothing a curator does is lost: every change is kept by django-simple-history and shown on
each record's History page, a deleted record can be restored from its model's "Deleted"
page, and a change form opened before someone else's save refuses to overwrite it.
"""

import dataclasses
import datetime
from operator import attrgetter

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, models, router, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.sql.where import WhereNode
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext
from django_countries.filters import CountryFilter
from import_export.admin import ImportExportMixin
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import to_historic
from simple_history.template_utils import HistoricalRecordContextHelper

from . import choices, resources, search
from .api.pagination import LimitOffsetPagination
from .counts import CitationCount
from .history import PARTS, UNINTERESTING_FIELDS, record_history
from .models import (
    CasualtyReport,
    CasualtyReportLink,
    Citation,
    Event,
    EventLink,
    EventUnit,
    Source,
    Unit,
    UnitPosition,
    figure_range,
)
from .selectors import citation_count, claim_status, distinct_values, unit_subtree_ids
from .services import LINKS, RestoreError, restore_deleted

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


class UnitPositionWithinFilter(WithinUnitFilter):
    def condition(self, subtree_ids):
        return Q(unit_id__in=subtree_ids)


class IndexedCountryFilter(CountryFilter):
    """django-countries' filter, offering the countries the records have, read along the
    country's index (``distinct_values``) rather than by a scan of the whole table."""

    def lookup_choices(self, changelist):
        codes = set(distinct_values(changelist.model, self.field_path))
        for code, name in self.field.get_choices(include_blank=False):
            if code in codes:
                yield code, name


class CitationCountMixin:
    """A sortable citation-count column that costs no query per row."""

    citation_subject = None  # the Citation field pointing at this model

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(citation_count=self.citation_count_expression())

    def citation_count_expression(self):
        return citation_count(self.citation_subject)

    @admin.display(ordering="citation_count", description="citations")
    def citation_count(self, obj):
        return obj.citation_count


# Curators paste addresses without a scheme; today's sites are HTTPS (Django 6.0's default too).
URL_FORMFIELD_OVERRIDES = {models.URLField: {"assume_scheme": "https"}}


class ClaimStatusFilter(admin.SimpleListFilter):
    """Claims by their derived status, filtering on the ``claim_status`` annotation."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return choices.ClaimStatus.choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if self.value() not in choices.ClaimStatus.values:
            raise IncorrectLookupParameters(f"“status” takes one of {', '.join(choices.ClaimStatus.values)}.")
        return queryset.filter(claim_status=self.value())


class ClaimStatusMixin:
    """A sortable status column computed in the changelist's query, as the API computes it."""

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(claim_status=claim_status(self.model))

    @admin.display(ordering="claim_status", description="status")
    def status(self, obj):
        return choices.ClaimStatus(obj.claim_status).label


class QuietHistoryHelper(HistoricalRecordContextHelper):
    """Leaves ``created_at`` and ``updated_at`` out of the listed changes: every save moves them."""

    def context_for_delta_changes(self, delta):
        changes = [change for change in delta.changes if change.field not in UNINTERESTING_FIELDS]
        return super().context_for_delta_changes(dataclasses.replace(delta, changes=changes))


OPENED_VERSION_FIELD = "opened_updated_at"


def latest_change(model, pk, *, after: datetime.datetime):
    """The newest history entry after ``after`` of a record or of a row shown inside it, or None.

    A citation, unit or link saved into a record moves the record's ``updated_at`` without a
    history entry of its own, so its author is found in the part's history.
    """
    histories = [model.history.filter(id=pk)]
    histories += [part.history.filter(**{f"{field}_id": pk}) for part, field in PARTS.get(model, [])]
    if model in LINKS:
        histories.append(LINKS[model].history.filter(Q(from_claim_id=pk) | Q(to_claim_id=pk)))
    newest = (
        history.filter(history_date__gt=after).select_related("history_user").order_by("-history_date").first()
        for history in histories
    )
    return max(filter(None, newest), key=attrgetter("history_date"), default=None)


class StaleEditGuardForm(forms.ModelForm):
    """A change form that refuses to overwrite an edit saved after it was opened.

    It carries, in a hidden field, the record's ``updated_at`` as it was when the form was
    rendered. Saving a citation, unit or link moves its parent's ``updated_at`` too, so an edit
    made through another curator's inlines is caught as well. The row stays locked from the
    comparison to the end of the admin's transaction, so two saves cannot both pass.
    """

    opened_updated_at = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:
            return
        opened = self.instance.updated_at
        if to_historic(self.instance) is not None:
            # Reverting to a past version replaces the record as it is now, not as it was then.
            opened = self._stored_updated_at()
        self.initial[OPENED_VERSION_FIELD] = opened.isoformat() if opened else ""

    def _stored_updated_at(self, *, lock=False):
        records = self._meta.model._base_manager.filter(pk=self.instance.pk)
        if lock:
            records = records.select_for_update()
        return records.values_list("updated_at", flat=True).first()

    def clean(self):
        cleaned_data = super().clean()
        if not self.instance._state.adding:
            with transaction.atomic(using=router.db_for_write(self._meta.model)):
                stored = self._stored_updated_at(lock=True)
            self._refuse_if_stale(stored, cleaned_data.get(OPENED_VERSION_FIELD) or "")
        return cleaned_data

    def _refuse_if_stale(self, stored, opened_text):
        opts = self._meta.model._meta
        if stored is None:
            raise ValidationError(
                f"Nothing was saved: this {opts.verbose_name} no longer exists. A deleted record is brought "
                f"back from the “Deleted {opts.verbose_name_plural}” page.",
                code="deleted",
            )
        try:
            opened = datetime.datetime.fromisoformat(opened_text)
        except ValueError:
            raise ValidationError(
                f"Nothing was saved: this form does not say which version of the {opts.verbose_name} it "
                "was opened on. Reload the page and make your changes again.",
                code="stale",
            ) from None
        if stored == opened:
            return
        change = latest_change(self._meta.model, self.instance.pk, after=opened)
        by = f" by {change.history_user.get_username()}" if change and change.history_user else ""
        when = timezone.localtime(stored).strftime("%Y-%m-%d %H:%M:%S %Z")
        raise ValidationError(
            f"Nothing was saved: this {opts.verbose_name} was changed{by} at {when}, after you opened this "
            "form. Reload the page to see their changes, then make yours again.",
            code="stale",
        )


def action_checkbox(pk, label) -> str:
    """A changelist row's checkbox for actions, as Django's admin writes it; written directly,
    where rendering it as a form widget through the template engine took a tenth of a page."""
    return format_html(
        '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
        helpers.ACTION_CHECKBOX_NAME,
        pk,
        label,
    )


class DeletedRecordAdmin(admin.ModelAdmin):
    """The deleted records of one curated model, read from its history, with a restore action.

    It lists each record whose latest history entry is its deletion and that does not exist
    any more. It is not registered on the site: the curated model's admin serves it at
    ``deleted/`` and lends it its permissions, so it needs no model or permission of its own.
    """

    change_list_template = "admin/events/deleted_records.html"
    list_display_links = None
    list_select_related = ("history_user",)
    date_hierarchy = "history_date"
    actions = ("restore_selected",)

    def __init__(self, record_admin):
        self.record_admin = record_admin
        self.record_model = record_admin.model
        super().__init__(record_admin.model.history.model, record_admin.admin_site)
        self.search_fields = record_admin.deleted_search_fields

    def get_queryset(self, request):
        later = self.model._default_manager.filter(id=OuterRef("id"), history_date__gt=OuterRef("history_date"))
        return (
            super()
            .get_queryset(request)
            .filter(history_type="-")
            .filter(~Exists(later), ~Exists(self.record_model._base_manager.filter(pk=OuterRef("id"))))
        )

    def get_list_display(self, request):
        return ("record", *self.record_admin.deleted_list_display, "deleted_at", "deleted_by")

    def changelist_view(self, request, extra_context=None):
        opts = self.record_model._meta
        context = {"title": f"Deleted {opts.verbose_name_plural}", "record_opts": opts}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def action_checkbox(self, obj):
        # The default labels the box with str(obj), which reaches for related records, per row
        # and possibly deleted too; the id is enough.
        return action_checkbox(obj.pk, f"Select {self.record_model._meta.verbose_name} {obj.id}")

    @admin.display(ordering="id", description="id")
    def record(self, version):
        opts = self.record_model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[version.id])
        return format_html('<a href="{}">{}</a>', url, version.id)

    @admin.display(ordering="history_date", description="deleted at")
    def deleted_at(self, version):
        return version.history_date

    @admin.display(ordering="history_user__username", description="deleted by")
    def deleted_by(self, version):
        return version.history_user

    def has_view_permission(self, request, obj=None):
        return self.record_admin.has_view_or_change_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_restore_permission(self, request):
        """Restoring creates a record, so it takes the permission to add one (superusers have it)."""
        opts = self.record_model._meta
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('add', opts)}")

    @admin.action(description="Restore selected records", permissions=["restore"])
    def restore_selected(self, request, queryset):
        opts = self.record_model._meta
        restored = []
        for version in queryset.order_by("history_date"):
            try:
                restored.append(restore_deleted(self.record_model, version.id, user=request.user))
            except (RestoreError, IntegrityError) as error:
                self.message_user(
                    request, f"Could not restore {opts.verbose_name} {version.id}: {error}", messages.ERROR
                )
        if restored:
            names = ", ".join(f"“{record}” (id {record.pk})" for record in restored)
            noun = opts.verbose_name if len(restored) == 1 else opts.verbose_name_plural
            self.message_user(request, f"Restored {len(restored)} {noun}: {names}.", messages.SUCCESS)


class BoundedCountPaginator(Paginator):
    """A changelist's pages, read as the API reads a list's.

    The count is exact up to ``EXACT_COUNT_LIMIT`` rows, past that PostgreSQL's estimate
    (SQLite: the limit plus one), which the page says is one: counting millions of rows exactly
    cost more than the page itself.
    """

    count_exact = True

    @cached_property
    def count(self):
        counter = LimitOffsetPagination()
        counter.count_exact = True
        # The rows' ids alone: the changelist's annotations (status, citation count) would be
        # computed for every row counted.
        count = counter.get_count(self.object_list.values("pk"))
        self.count_exact = counter.count_exact
        return count

    def page(self, number):
        """The page's ids first, with the list's filters and order alone; then its rows, with the
        changelist's annotations (status, citation count) and related rows, for those ids only.
        In one query, SQLite would compute the annotations of every row it sorts."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        rows = self.object_list.order_by()
        # The ids already meet the list's filters and search: asked again, a search would read
        # all its matches (a common word's hundreds of thousands) to keep the page's hundred.
        rows.query.where = WhereNode()
        rows = {row.pk: row for row in rows.filter(pk__in=ids)}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


class TimestampedAdmin(SimpleHistoryAdmin):
    """The admin of every curated model: its edit history, stale-form guard and deleted records.

    ``deleted_list_display`` and ``deleted_search_fields`` name fields of the historical model
    for the "Deleted" page.
    """

    form = StaleEditGuardForm
    paginator = BoundedCountPaginator
    # The total beside a filtered count would count the whole table.
    show_full_result_count = False
    readonly_fields = ("created_at", "updated_at")
    formfield_overrides = URL_FORMFIELD_OVERRIDES
    deleted_list_display = ()
    deleted_search_fields = ()

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self.deleted_records_admin = DeletedRecordAdmin(self)

    def get_urls(self):
        opts = self.opts
        view = self.admin_site.admin_view(self.deleted_records_admin.changelist_view)
        return [path("deleted/", view, name=f"{opts.app_label}_{opts.model_name}_deleted"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        opts = self.opts
        context = {"deleted_records_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_deleted")}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def get_fieldsets(self, request, obj=None):
        """The fieldsets, with the stale-form guard's hidden field in the first."""
        (name, options), *rest = super().get_fieldsets(request, obj)
        if OPENED_VERSION_FIELD not in options["fields"]:
            options = {**options, "fields": (*options["fields"], OPENED_VERSION_FIELD)}
        return [(name, options), *rest]

    def action_checkbox(self, obj):
        return action_checkbox(obj.pk, format_html(gettext("Select this object for an action - {}"), str(obj)))

    @admin.display(ordering="country", description="country")
    def country_name(self, obj):
        """The country column: Django would read the field's 250 choices again for each row."""
        return obj.country.name or self.get_empty_value_display()

    def get_historical_record_context_helper(self, request, historical_record):
        return QuietHistoryHelper(self.model, historical_record)

    def revert_disabled(self, request, obj=None):
        # A deleted record comes back from the "Deleted" page, with the rows deleted with it.
        if obj is not None and not self.model._base_manager.filter(pk=obj.pk).exists():
            return True
        return super().revert_disabled(request, obj)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple-history saves a revert for anyone who may view the history; a revert is a change.
        if request.method == "POST" and not self.has_change_history_permission(request):
            raise PermissionDenied
        # Atomic like the change form, so the stale-form guard's row lock lasts until the save.
        with transaction.atomic(using=router.db_for_write(self.model)):
            return super().history_form_view(request, object_id, version_id, extra_context)


class CitationInline(admin.StackedInline):
    """Citations of an event or a casualty report; the subject is the parent form's record."""

    model = Citation
    extra = 0
    formfield_overrides = URL_FORMFIELD_OVERRIDES
    autocomplete_fields = ("source",)
    fields = (
        ("source", "role"),
        ("url", "title"),
        ("published_date", "accessed_date", "archive_url"),
        "evidence_url",
        "quote",
    )


class EventUnitInline(admin.TabularInline):
    model = EventUnit
    extra = 0
    autocomplete_fields = ("unit",)
    fields = ("unit", "role")


class OutgoingLinkInline(admin.StackedInline):
    """The earlier claims this one confirms, disputes, supersedes, revises or retracts."""

    fk_name = "from_claim"
    extra = 0
    formfield_overrides = URL_FORMFIELD_OVERRIDES
    autocomplete_fields = ("to_claim", "source")
    fields = (
        ("relation", "to_claim"),
        ("source", "url", "title"),
        ("published_date", "accessed_date", "archive_url"),
        "quote",
    )
    verbose_name = "link to an earlier claim"
    verbose_name_plural = "links to earlier claims (this one confirms, disputes, supersedes, revises or retracts)"


class IncomingLinkInline(admin.TabularInline):
    """The newer claims that bear on this one; each is edited on its own page."""

    fk_name = "to_claim"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("from_claim", "relation", "source", "published_date", "quote")
    readonly_fields = fields
    verbose_name = "link from a newer claim"
    verbose_name_plural = "links from newer claims (they bear on this one)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("from_claim", "source")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EventOutgoingLinkInline(OutgoingLinkInline):
    model = EventLink


class EventIncomingLinkInline(IncomingLinkInline):
    model = EventLink


class CasualtyReportOutgoingLinkInline(OutgoingLinkInline):
    model = CasualtyReportLink


class CasualtyReportIncomingLinkInline(IncomingLinkInline):
    model = CasualtyReportLink

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("from_claim__unit")


class FullTextSearchMixin:
    """The search box uses the records' full-text index (``events.search``), as ``?q=`` does.

    The same syntax; each word outside quotes also matches the words it begins, so that a
    curator (or an autocomplete box elsewhere in the admin) can search as they type.
    ``search_fields`` says what the index holds.
    """

    search_help_text = (
        'Words, "an exact phrase", or between alternatives, -word to leave out; a word also finds the words it '
        "begins. Searches the text and the citations' quotes."
    )

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(search.matches(search_term, prefixes=True)), False


class ClaimAdminMixin(ClaimStatusMixin):
    """What events and casualty reports share as claims: status, links, and a history with parts.

    Links are edited on the change page only: a claim being added has no links pointing at it.
    """

    link_inlines = ()
    object_history_template = "admin/events/claim_object_history.html"

    def get_inlines(self, request, obj):
        return (*super().get_inlines(request, obj), *(self.link_inlines if obj is not None else ()))

    def history_view(self, request, object_id, extra_context=None):
        context = {"part_history": self.part_history(object_id), **(extra_context or {})}
        return super().history_view(request, object_id, context)

    def part_history(self, object_id):
        """Changes to the citations and units shown inside the record, newest first."""
        entries = []
        for entry in record_history(self.model, object_id) or []:
            if entry["record"] == self.opts.model_name:
                continue
            opts = self.opts.app_config.get_model(entry["record"])._meta
            url = None
            if self.admin_site.is_registered(opts.model):
                url = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[entry["record_id"]])
            entries.append({**entry, "label": f"{opts.verbose_name} {entry['record_id']}", "url": url})
        return entries


class ConsensusChartMixin:
    """A change page's chart of what the sources say about the record's subject, as of today
    (``/api/consensus/?format=svg``), linking to the same answer in JSON."""

    def consensus_query(self, obj) -> dict:
        raise NotImplementedError

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.pk is None:
            return fieldsets
        return (*fieldsets, ("What the sources say", {"fields": ("consensus_chart",)}))

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "consensus_chart") if obj is not None and obj.pk is not None else fields

    @admin.display(description="consensus")
    def consensus_chart(self, obj):
        address = reverse("api:consensus") + "?" + urlencode(self.consensus_query(obj))
        return format_html(
            '<a href="{}"><img src="{}" alt="What the sources say, as of today" class="consensus-chart" '
            'style="max-width: 100%; height: auto"></a>',
            address,
            address + "&format=svg",
        )


class SpreadsheetMixin(ImportExportMixin):
    """Import and export buttons on the changelist (see ``events.resources``)."""

    # import-export's buttons extend this, which adds the deleted-records link.
    change_list_template = "admin/events/change_list.html"


@admin.register(Source)
class SourceAdmin(SpreadsheetMixin, CitationCountMixin, TimestampedAdmin):
    resource_classes = [resources.SourceResource]
    list_display = ("name", "kind", "country_name", "reliability", "party", "citation_count")
    list_filter = ("kind", "reliability", "party", ("country", IndexedCountryFilter))
    search_fields = ("name", "slug", "aliases", "description")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "aliases",
                    "slug",
                    "kind",
                    "country",
                    "homepage",
                    ("reliability", "party"),
                    "description",
                )
            },
        ),
        RECORD_FIELDSET,
    )
    deleted_list_display = ("name", "slug", "kind")
    deleted_search_fields = ("name", "slug")

    def citation_count_expression(self):
        return CitationCount()  # a source may have millions: its count is kept (events/counts.py)


class UnitPositionsMixin:
    """A unit's change page links to its positions (its track), with how many there are and the latest."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.pk is None:
            return fieldsets
        return (*fieldsets, ("Positions", {"fields": ("positions",)}))

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "positions") if obj is not None and obj.pk is not None else fields

    @admin.display(description="positions")
    def positions(self, obj):
        opts = UnitPosition._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        count = obj.positions.count()
        if not count:
            return format_html(
                'None reported. <a href="{}">With the units under it</a>', f"{changelist}?within={obj.pk}"
            )
        latest = obj.positions.order_by("-date", "-pk").first()
        return format_html(
            '<a href="{}">{} {}</a>, the latest on {} at {}, {} (<a href="{}">with the units under it</a>)',
            f"{changelist}?unit__id__exact={obj.pk}",
            count,
            opts.verbose_name if count == 1 else opts.verbose_name_plural,
            latest.date,
            latest.latitude,
            latest.longitude,
            f"{changelist}?within={obj.pk}",
        )


@admin.register(Unit)
class UnitAdmin(SpreadsheetMixin, UnitPositionsMixin, ConsensusChartMixin, TimestampedAdmin):
    resource_classes = [resources.UnitResource]
    list_display = ("name", "echelon", "country_name", "parent", "status", "strength")
    list_filter = ("echelon", "status", ("country", IndexedCountryFilter), UnitWithinFilter)
    list_select_related = ("parent",)
    search_fields = ("name", "aliases", "branch")
    autocomplete_fields = ("parent",)
    fieldsets = (
        (None, {"fields": ("name", "aliases", "country", "echelon", "branch", "parent", "status", "description")}),
        ("Strength", {"fields": (("strength_low", "strength_best", "strength_high"),)}),
        RECORD_FIELDSET,
    )
    deleted_list_display = ("name", "echelon", "country")
    deleted_search_fields = ("name",)

    @admin.display(ordering="strength_best", description="strength")
    def strength(self, obj):
        return figure_range(obj.strength_low, obj.strength_best, obj.strength_high)

    def consensus_query(self, obj):
        return {"unit__exact": obj.pk}


@admin.register(UnitPosition)
class UnitPositionAdmin(TimestampedAdmin):
    list_display = (
        "unit",
        "date",
        "date_precision",
        "latitude",
        "longitude",
        "location_precision",
        "strength",
        "source",
    )
    list_filter = ("date", "date_precision", "location_precision", UnitPositionWithinFilter)
    list_select_related = ("unit", "source")
    search_fields = ("unit__name", "unit__aliases", "strength", "notes")
    autocomplete_fields = ("unit", "source")
    date_hierarchy = "date"
    fieldsets = (
        (None, {"fields": ("unit", ("date", "date_precision"), ("latitude", "longitude", "location_precision"))}),
        ("Reported", {"fields": ("strength", ("source", "source_date"), "source_url", "notes")}),
        IMPORTED_RECORD_FIELDSET,
    )
    deleted_list_display = ("unit_id", "date", "latitude", "longitude", "source_id")
    deleted_search_fields = ("strength", "notes")


@admin.register(Event)
class EventAdmin(SpreadsheetMixin, FullTextSearchMixin, ClaimAdminMixin, CitationCountMixin, TimestampedAdmin):
    resource_classes = [resources.EventResource]
    citation_subject = "event"
    list_display = (
        "title",
        "type",
        "start_date",
        "end_date",
        "date_precision",
        "country_name",
        "admin1",
        "citation_count",
        "status",
    )
    list_filter = (
        ClaimStatusFilter,
        "type",
        "date_precision",
        "expected",
        ("country", IndexedCountryFilter),
        "location_precision",
        EventWithinFilter,
    )
    search_fields = ("title", "place_name", "admin1")
    date_hierarchy = "start_date"
    inlines = (EventUnitInline, CitationInline)
    link_inlines = (EventOutgoingLinkInline, EventIncomingLinkInline)
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
    deleted_list_display = ("title", "type", "start_date", "country")
    deleted_search_fields = ("title", "place_name")


@admin.register(CasualtyReport)
class CasualtyReportAdmin(
    SpreadsheetMixin, ConsensusChartMixin, FullTextSearchMixin, ClaimAdminMixin, CitationCountMixin, TimestampedAdmin
):
    resource_classes = [resources.CasualtyReportResource]
    citation_subject = "casualty_report"
    list_display = (
        "summary",
        "country_name",
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
        "status",
    )
    list_filter = (
        ClaimStatusFilter,
        "category",
        "equipment_type",
        "kind",
        "credibility",
        "date_precision",
        ("country", IndexedCountryFilter),
        CasualtyReportWithinFilter,
    )
    list_select_related = ("unit", "event")
    search_fields = ("description", "date_text", "unit__name", "event__title")
    autocomplete_fields = ("unit", "event")
    date_hierarchy = "as_of_date"
    inlines = (CitationInline,)
    link_inlines = (CasualtyReportOutgoingLinkInline, CasualtyReportIncomingLinkInline)
    fieldsets = (
        (None, {"fields": (("category", "kind", "credibility"), ("country", "unit", "event"), "description")}),
        ("Equipment", {"fields": (("equipment_type", "equipment_name"),)}),
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
    deleted_list_display = ("category", "low", "best", "high", "kind", "country", "as_of_date")
    deleted_search_fields = ("description", "date_text")

    @admin.display(description="summary")
    def summary(self, obj):
        return str(obj)

    def consensus_query(self, obj):
        """The report's subject, exactly: its country, category (and equipment type), unit and event."""
        query = {"category": obj.category}
        query.update({"equipment_type": obj.equipment_type} if obj.equipment_type else {"losses": "personnel"})
        if obj.country:
            query["country"] = obj.country.code
        query.update({"unit__exact": obj.unit_id} if obj.unit_id else {"unit__isnull": "true"})
        query.update({"event": obj.event_id} if obj.event_id else {"event__isnull": "true"})
        return query


ATTRIBUTION_FIELDSET = (
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
)


@admin.register(Citation)
class CitationAdmin(TimestampedAdmin):
    """Browse and correct citations across subjects; they are usually entered inline."""

    list_display = ("source", "role", "subject", "source_reliability", "title", "published_date")
    list_filter = ("role", "source__reliability")
    # The source comes in a second query: joined (an inner join), SQLite would read the citations
    # source by source and sort millions of them for each page.
    list_select_related = ("event", "casualty_report__unit")
    search_fields = ("quote", "title", "url")
    autocomplete_fields = ("event", "casualty_report", "source")
    fieldsets = (
        (None, {"fields": (("event", "casualty_report"), ("source", "role"))}),
        (ATTRIBUTION_FIELDSET[0], {"fields": (*ATTRIBUTION_FIELDSET[1]["fields"], "evidence_url")}),
        RECORD_FIELDSET,
    )
    deleted_list_display = ("role", "source_id", "event_id", "casualty_report_id", "title")
    deleted_search_fields = ("quote", "title", "url")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("source")

    @admin.display(description="cited in")
    def subject(self, obj):
        return obj.event or obj.casualty_report

    @admin.display(ordering="source__reliability", description="source reliability")
    def source_reliability(self, obj):
        return obj.source.get_reliability_display()


class ClaimLinkAdmin(TimestampedAdmin):
    """Browse and correct links across claims; they are usually entered on the newer claim's page."""

    list_display = ("from_claim", "relation", "to_claim", "source", "published_date")
    list_filter = ("relation", "source__reliability")
    search_fields = ("quote", "title", "url", "source__name")
    autocomplete_fields = ("from_claim", "to_claim", "source")
    fieldsets = (
        (None, {"fields": (("from_claim", "relation", "to_claim"), "source")}),
        ATTRIBUTION_FIELDSET,
        RECORD_FIELDSET,
    )
    deleted_list_display = ("from_claim_id", "relation", "to_claim_id", "source_id")
    deleted_search_fields = ("quote", "title", "url")


@admin.register(EventLink)
class EventLinkAdmin(ClaimLinkAdmin):
    list_select_related = ("from_claim", "to_claim", "source")
    search_fields = (*ClaimLinkAdmin.search_fields, "from_claim__title", "to_claim__title")


@admin.register(CasualtyReportLink)
class CasualtyReportLinkAdmin(ClaimLinkAdmin):
    list_select_related = ("from_claim__unit", "to_claim__unit", "source")
    search_fields = (*ClaimLinkAdmin.search_fields, "from_claim__description", "to_claim__description")
