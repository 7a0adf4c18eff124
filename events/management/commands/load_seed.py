from django.core.management.base import BaseCommand

from events.services import load_seed


class Command(BaseCommand):
    help = (
        "Load the seed data (fixtures/seed.json) into an empty database, with a 'created' history entry for "
        "each record, in one transaction. A database that holds or has held any record is left as it is, so "
        "running this on every start never overwrites an edit."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fixture", default="seed", help="Fixture to load (default %(default)s).")

    def handle(self, *args, fixture, verbosity, **options):
        loaded = load_seed(fixture=fixture)
        if verbosity < 1:
            return
        if loaded is None:
            self.stdout.write("The database already has records: the seed data is not loaded, and nothing changed.")
        else:
            self.stdout.write(f"Loaded the seed data: {loaded:,} records, each with its 'created' history entry.")
