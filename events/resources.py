"""Spreadsheet import and export for staff, through django-import-export.

Each row is one record, keyed by ``id``: a row with the id of an existing record updates it,
a row without one creates a record. Every instance goes through the model's ``full_clean()``,
the same rules the API applies (``low <= best <= high``, valid choices, dates in order), and an
import with any invalid row saves nothing. Citations are not part of these sheets: they are
edited inline, or imported with ``manage.py import_csv``.
"""

from import_export import fields, resources, widgets

from .models import CasualtyReport, Event, Source, Unit

TIMESTAMPS = ("created_at", "updated_at")


class ValidatedResource(resources.ModelResource):
    class Meta:
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True
        use_transactions = True


class SourceResource(ValidatedResource):
    class Meta(ValidatedResource.Meta):
        model = Source
        fields = ("id", "name", "slug", "kind", "country", "homepage", "description", "reliability")
        export_order = fields


class UnitResource(ValidatedResource):
    aliases = fields.Field(attribute="aliases", column_name="aliases", widget=widgets.JSONWidget())

    class Meta(ValidatedResource.Meta):
        model = Unit
        fields = (
            "id", "name", "aliases", "country", "echelon", "branch", "parent",
            "strength_low", "strength_best", "strength_high", "status", "description",
        )  # fmt: skip
        export_order = fields


class EventResource(ValidatedResource):
    class Meta(ValidatedResource.Meta):
        model = Event
        fields = (
            "id", "title", "description", "type", "start_date", "end_date", "date_precision", "date_text",
            "expected", "place_name", "admin1", "country", "latitude", "longitude", "location_precision",
            "personnel_low", "personnel_best", "personnel_high", "external_id",
        )  # fmt: skip
        export_order = fields


class CasualtyReportResource(ValidatedResource):
    class Meta(ValidatedResource.Meta):
        model = CasualtyReport
        fields = (
            "id", "country", "unit", "event", "category", "equipment_type", "equipment_name", "low", "best", "high",
            "kind", "as_of_date",
            "period_start", "horizon_date", "date_precision", "date_text", "credibility", "description",
            "external_id",
        )  # fmt: skip
        export_order = fields
