"""The benchmark's data generator (manage.py generate_data) and a smoke run of bench/run.py."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, F, Max, Min

from events import choices
from events.models import CasualtyReport, CasualtyReportLink, Citation, Event, EventLink, EventUnit, Source, Unit

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"events": 300, "reports": 900, "units": 80, "sources": 25}
MODELS = (Source, Unit, Event, EventUnit, CasualtyReport, Citation, EventLink, CasualtyReportLink)


def generate(seed=3, **options):
    call_command("generate_data", **SIZES, seed=seed, verbosity=0, **options)


def fingerprint():
    """A hash of every generated row, in primary-key order."""
    digest = hashlib.sha256()
    for model in MODELS:
        fields = [field.attname for field in model._meta.concrete_fields]
        for row in model.objects.order_by("pk").values_list(*fields):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_generates_the_requested_counts_with_citations_on_everything():
    generate()
    assert Source.objects.count() == SIZES["sources"]
    assert Unit.objects.count() == SIZES["units"]
    assert Event.objects.count() == SIZES["events"]
    assert CasualtyReport.objects.count() == SIZES["reports"]
    assert EventUnit.objects.exists() and EventLink.objects.exists() and CasualtyReportLink.objects.exists()
    for model, field in ((Event, "citations"), (CasualtyReport, "citations")):
        per_record = model.objects.annotate(n=Count(field)).aggregate(low=Min("n"), high=Max("n"))
        assert per_record == {"low": 1, "high": 3}, model
    assert set(Citation.objects.values_list("role", flat=True).distinct()) == set(choices.CitationRole.values)
    assert Citation.objects.filter(published_date__isnull=False).count() > 0.9 * Citation.objects.count()
    # Citations are published on or after the end of what they report.
    assert not Citation.objects.filter(event__isnull=False, published_date__lt=F("event__end_date")).exists()
    # Countries, dates, coordinates and words that a q search finds.
    assert Event.objects.values("country").distinct().count() >= 5
    dates = Event.objects.aggregate(first=Min("start_date"), last=Max("end_date"))
    assert dates["first"].year >= 2013 and dates["last"].year <= 2026
    located = Event.objects.filter(latitude__isnull=False).count() / Event.objects.count()
    assert 0.55 < located < 0.85
    assert Event.objects.filter(title__icontains="drone").exists()
    assert len(set(Event.objects.values_list("date_precision", flat=True))) == len(choices.DatePrecision.values)
    # Reports name units and events, with figures in order.
    assert CasualtyReport.objects.filter(unit__isnull=False, event__isnull=False).exists()
    assert len(set(CasualtyReport.objects.values_list("kind", flat=True))) == len(choices.FigureKind.values)


def test_units_form_hierarchies_at_most_five_deep():
    generate()
    parents = dict(Unit.objects.values_list("pk", "parent_id"))

    def depth(pk):
        levels = 1
        while parents[pk] is not None:
            pk = parents[pk]
            levels += 1
            assert levels <= 5
        return levels

    depths = [depth(pk) for pk in parents]
    assert max(depths) == 5
    assert depths.count(1) >= 1
    echelons = dict(Unit.objects.values_list("pk", "echelon"))
    assert {echelons[pk] for pk in parents if depth(pk) == 5} == {"battalion"}
    assert {echelons[pk] for pk in parents if depth(pk) == 1} <= {"army", "contingent"}


def test_the_same_seed_gives_the_same_data():
    generate(seed=5)
    first = fingerprint()
    generate(seed=5, force=True)
    assert fingerprint() == first
    generate(seed=6, force=True)
    assert fingerprint() != first


def test_refuses_a_database_with_data_unless_forced():
    generate()
    with pytest.raises(CommandError, match="already holds data"):
        generate()
    generate(force=True)
    assert Event.objects.count() == SIZES["events"]


def test_every_sampled_record_passes_the_model_validation():
    generate()
    for model in MODELS:
        total = model.objects.count()
        step = max(total // 40, 1)
        sample = model.objects.filter(pk__in=range(1, total + 1, step))
        assert sample.exists(), model
        for record in sample:
            record.full_clean()


def test_sequences_continue_after_the_generated_rows():
    generate()
    source = Source.objects.create(name="After", slug="after-generation", kind="media")
    assert source.pk == SIZES["sources"] + 1


SMOKE_TIMEOUT = 240


def test_smoke_benchmark_prints_the_table(tmp_path):
    """bench/run.py --smoke end to end, on this test run's backend (a subset of scenarios, to stay quick)."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        host, port, user = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432, settings["USER"] or "postgres"
        backend = ["--targets", "ours-pg,bare-pg", "--pg-url", f"postgres://{user}@{host}:{port}/"]
    else:
        backend = ["--targets", "ours-sqlite,datasette-1,datasette-n", "--sqlite", str(tmp_path / "smoke.sqlite3")]
    command = [
        sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--scenarios", "a,c,d,g,t,admin-change", "--db",
        "osint_bench_smoke_test", "--out", str(tmp_path / "results"), *backend,
        "--import-rows", "0",  # the import benchmark has its smoke test (tests/test_bulk_import.py)
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SMOKE_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| target | scenario | req/s | p50 ms | p95 ms | p99 ms |" in result.stdout
    report = (tmp_path / "results" / "report.md").read_text()
    targets = backend[1].split(",")
    for target in targets:
        assert f"| {target} | a " in report and f"| {target} | d " in report
        if target in ("ours-pg", "bare-pg", "ours-sqlite"):
            assert f"| {target} | t time travel: " in report
        if target.startswith("ours"):
            # Measured, not "HTTP 302": the session logs in, and no request was redirected.
            row = next(line for line in report.splitlines() if line.startswith(f"| {target} | admin-change "))
            assert row.split("|")[7].strip() == "0", row
    assert "| CSV export |" in report
    assert "Query plans on" in report
