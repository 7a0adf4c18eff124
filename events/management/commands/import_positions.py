from events.importers.base import ImportCommand
from events.importers.positions import PositionImporter, import_positions


class Command(ImportCommand):
    help = (
        "Import units' positions from a CSV in the layout of uawardata.com's unit files, with the columns "
        "date, lat, lng, unit, subordinate_to, country, strength, type, sources_url, sources_date, notes. "
        "Units are matched by name or alias (created with their parents when missing), sources by the "
        "address's host; positions by unit, date and place, so a second import only writes changes. "
        "Details in events/importers/positions.py."
    )
    importer_class = PositionImporter

    def run_import(self, **options):
        return import_positions(**options)
