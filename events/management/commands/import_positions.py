from django.core.management.base import CommandError
from django.db import DatabaseError

from events.importers.base import ImportCommand, ImportFileError
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

    def handle(self, *args, file, dry_run, batch_size, no_progress, verbosity, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")

        def on_problem(problem, rejected):
            if verbosity >= 1:
                if rejected:
                    self.stderr.write(f"rejected {problem}")
                else:
                    self.stderr.write(f"warning {problem}", style_func=self.style.WARNING)

        try:
            summary = import_positions(
                path=file,
                batch_size=batch_size,
                dry_run=dry_run,
                progress=not no_progress and self.stdout.isatty(),
                change_reason=f"{self.importer_class.label} import of {file.name}",
                on_problem=on_problem,
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        except DatabaseError as error:
            raise CommandError(
                f"The import stopped on a database error: {error}. Batches written before it are saved; "
                "run the same command again to finish (rows already imported are left as they are)."
            ) from error
        if verbosity >= 1:
            self.stdout.write(str(summary))
