from events.importers.acled import AcledImporter
from events.importers.base import ImportCommand


class Command(ImportCommand):
    help = (
        "Import an ACLED export CSV: one event per row (external id acled:<event_id_cnty>) with ACLED's "
        "fatalities as a casualty report claimed by ACLED. Safe to run again: records are matched by external "
        "id and only changes are written. See events/importers/acled.py for the mapping."
    )
    importer_class = AcledImporter
