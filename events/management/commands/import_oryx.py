from events.importers.base import ImportCommand
from events.importers.oryx import OryxImporter


class Command(ImportCommand):
    help = (
        "Import Oryx's per-item lists of equipment losses in the layout of the oryx_data scrape (country, origin, "
        "system, status, url, date_recorded, sysID, imageID, statusID, matID): one casualty report per item "
        "(external id oryx:<matID>) confirmed by Oryx with the item's image, then Oryx's running totals per "
        "country, status, equipment type and listing day (oryx:total:...). Safe to run again: only changes are "
        "written. See events/importers/oryx.py for the mapping."
    )
    importer_class = OryxImporter
