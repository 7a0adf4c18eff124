from events.importers import claims_csv
from events.importers.base import ImportCommand


class Command(ImportCommand):
    help = (
        "Import casualty reports, their events and citations from our claims CSV (what export_csv writes): "
        "one row per report; rows are matched by report_id and event_id (an external id, or local:event:<id> "
        "and local:casualty-report:<id> for records entered here), so a second import only writes changes. "
        "Columns: report_id, event_id; the report's country, category, kind, low, best, high, "
        "as_of_date, period_start, horizon_date, date_precision, date_text, credibility, description, unit, "
        "unit_country, unit_id (optional); the event's event_title, event_type, event_start_date, event_end_date, "
        "event_date_precision, event_date_text, event_expected, event_place_name, event_admin1, event_country, "
        "event_latitude, event_longitude, event_location_precision, event_personnel_low/_best/_high, "
        "event_description; then citation<N>_ and event_citation<N>_ groups of source, source_name, "
        "source_kind, source_reliability, source_country, role, url, title, published_date, accessed_date, "
        "archive_url, quote. Details in events/importers/claims_csv.py."
    )
    importer_class = claims_csv.ClaimsCsvImporter
