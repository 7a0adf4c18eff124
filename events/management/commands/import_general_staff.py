from events.importers.base import ImportCommand
from events.importers.general_staff import GeneralStaffImporter


class Command(ImportCommand):
    help = (
        "Import the daily cumulative claims of Ukraine's General Staff of Russian losses, in the JSON layout of "
        "PetroIvaniuk/2022-Ukraine-Russia-War-Dataset (russia_losses_equipment.json, russia_losses_personnel.json): "
        "a list of one object per day (date, day, then a figure per key); each day's figure for each key becomes "
        "one claim by the General Staff (external id general-staff:<date>:<key>). Safe to run again: only changes "
        "are written. See events/importers/general_staff.py for the mapping of the keys."
    )
    importer_class = GeneralStaffImporter
    file_help = "The JSON file to import (UTF-8): a list of one object per day."
