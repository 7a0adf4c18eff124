from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from events.importers.claims_csv import export_claims


class Command(BaseCommand):
    help = (
        "Export every casualty report (and every event without one) to our claims CSV, one row per report "
        "with its event and citations; import_csv reads it back. See `manage.py import_csv --help` and "
        "events/importers/claims_csv.py for the columns."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Where to write the CSV; - for standard output.")

    def handle(self, *args, file, verbosity, **options):
        if file == "-":
            rows = export_claims(file=self.stdout)
        else:
            try:
                with Path(file).open("w", encoding="utf-8", newline="") as output:
                    rows = export_claims(file=output)
            except OSError as error:
                raise CommandError(f"Cannot write {file}: {error.strerror}.") from None
        if verbosity >= 1 and file != "-":
            self.stdout.write(f"Wrote {rows:,} rows to {file}.")
