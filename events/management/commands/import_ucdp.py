from events.importers.base import ImportCommand
from events.importers.ucdp import UcdpGedImporter


class Command(ImportCommand):
    help = (
        "Import a UCDP Georeferenced Event Dataset (GED) CSV: one event per row (external id ucdp-ged:<id>) "
        "with UCDP's death estimates as casualty reports claimed by UCDP. Safe to run again: records are "
        "matched by external id and only changes are written. See events/importers/ucdp.py for the mapping."
    )
    importer_class = UcdpGedImporter
