"""The importers and export: UCDP GED, ACLED, and our claims CSV, driven through their commands."""

import csv
import datetime
import filecmp
import io
import shutil
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Prefetch, Sum
from django.test import override_settings

from events.importers import base, bulk
from events.importers.acled import AcledImporter
from events.models import CasualtyReport, Citation, Event, EventUnit, Source

from .factories import make_event, make_report, make_unit

DATA = Path(__file__).resolve().parent / "data"
UCDP_SAMPLE = DATA / "ucdp_ged_v23_1_sample200.csv"
SHARED_UCDP_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucdp_ged_v23_1_sample200.csv"
ACLED_SAMPLE = DATA / "acled_sample.csv"
PARTY_COLUMNS = {"side_a": "deaths_a", "side_b": "deaths_b", "civilians": "deaths_civilians"}
PARTY_COLUMNS["unknown"] = "deaths_unknown"
HISTORY_MODELS = (Event, CasualtyReport, Citation, Source)

pytestmark = pytest.mark.django_db


def run(command, *args):
    """Run a management command; returns (stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(command, *map(str, args), stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def read_csv(path):
    """(line the record starts on, row as a dict) for each record, counted independently of the importer."""
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        previous = reader.line_num
        records = []
        for row in reader:
            records.append((previous + 1, dict(zip(header, row, strict=True))))
            previous = reader.line_num
    return header, records


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def ucdp_rows():
    return [row for _, row in read_csv(UCDP_SAMPLE)[1]]


def expected_ucdp_counts(rows):
    offices = [[office.strip() for office in row["source_office"].split(";") if office.strip()] for row in rows]
    party_reports = sum(1 for row in rows for column in PARTY_COLUMNS.values() if int(row[column]) > 0)
    return {
        "events": len(rows),
        "reports": len(rows) + party_reports,
        # UCDP's own citation and one per office on each event; UCDP's claim on each report.
        "citations": len(rows) + sum(map(len, offices)) + len(rows) + party_reports,
        "sources": len({office for row in offices for office in row}) + 1,
    }


def database_counts():
    return {
        "events": Event.objects.count(),
        "reports": CasualtyReport.objects.count(),
        "citations": Citation.objects.count(),
        "sources": Source.objects.count(),
    }


def history_counts():
    return {model.__name__: model.history.count() for model in HISTORY_MODELS}


def test_the_sample_in_tests_data_is_the_shared_one():
    if not SHARED_UCDP_SAMPLE.exists():
        pytest.skip("shared/data is not beside this checkout")
    assert filecmp.cmp(UCDP_SAMPLE, SHARED_UCDP_SAMPLE, shallow=False)


def test_ucdp_sample_imports_every_row_with_its_figures():
    rows = ucdp_rows()

    out, err = run("import_ucdp", UCDP_SAMPLE)

    assert "200 rows" in out and "200 created, 0 updated, 0 unchanged, 0 rejected" in out
    assert "rows/s" in out
    assert database_counts() == expected_ucdp_counts(rows)
    totals = CasualtyReport.objects.filter(external_id__endswith=":total")
    assert totals.count() == len(rows)
    assert totals.aggregate(total=Sum("best"))["total"] == sum(int(row["best"]) for row in rows)
    for suffix, column in PARTY_COLUMNS.items():
        reports = CasualtyReport.objects.filter(external_id__endswith=f":{suffix}")
        assert reports.aggregate(total=Sum("best"))["total"] == sum(int(row[column]) for row in rows)
    # Every UCDP country name, "DR Congo (Zaire)" and "Myanmar (Burma)" included, maps to a code.
    assert not Event.objects.filter(country="").exists()
    assert set(Event.objects.values_list("country", flat=True)) >= {"CD", "MM", "YE", "RS", "SY", "TR"}
    # Each event links all its reports.
    for event in Event.objects.all():
        row = next(row for row in rows if f"ucdp-ged:{row['id']}" == event.external_id)
        parties = sum(1 for column in PARTY_COLUMNS.values() if int(row[column]) > 0)
        assert event.casualty_reports.count() == 1 + parties


def test_ucdp_row_is_mapped_field_by_field():
    run("import_ucdp", UCDP_SAMPLE)

    event = Event.objects.get(external_id="ucdp-ged:300380")
    assert event.title == "Government of Syria - Syrian insurgents: Rami village"
    assert event.type == "combat"
    assert (event.start_date, event.end_date) == (datetime.date(2013, 1, 3), datetime.date(2013, 1, 3))
    assert event.date_precision == "day"
    assert (event.place_name, event.admin1, event.country.code) == ("Rami village", "Idlib governorate", "SY")
    assert (event.latitude, event.longitude, event.location_precision) == (35.763369, 36.558974, "exact")
    assert "Syria: Government" in event.description and "in the al-Rami village" in event.description
    assert "The reports cite: SOHR; VDC." in event.description
    citations = [(c.source.slug, c.role, c.title, c.published_date) for c in event.citations.select_related("source")]
    assert citations == [
        ("ucdp", "reported_by", "UCDP GED event SYR-2013-1-11973-99", None),
        ("support-kurds-in-syria", "reported_by", "Thursday 3 January 2013", datetime.date(2013, 1, 3)),
        ("vdc", "reported_by", "Abdul Satar Mustafa Hankosh", datetime.date(2013, 1, 3)),
    ]
    total = CasualtyReport.objects.get(external_id="ucdp-ged:300380:total")
    assert (total.low, total.best, total.high) == (2, 2, 2)
    assert (total.category, total.kind, total.as_of_date, total.event) == (
        "killed",
        "estimate",
        datetime.date(2013, 1, 3),
        event,
    )
    claim = total.citations.get()
    assert (claim.source.slug, claim.role) == ("ucdp", "claimed_by")
    side_b = CasualtyReport.objects.get(external_id="ucdp-ged:300380:side_b")
    assert (side_b.low, side_b.best, side_b.high, side_b.country.code) == (None, 2, None, "")
    assert "Syrian insurgents" in side_b.description
    assert not CasualtyReport.objects.filter(external_id="ucdp-ged:300380:side_a").exists()  # deaths_a is 0

    # A two-to-six-day interval known to the province; the government side's losses get its country.
    event = Event.objects.get(external_id="ucdp-ged:158189")
    assert (event.date_precision, event.country.code) == ("week", "TR")
    assert CasualtyReport.objects.get(external_id="ucdp-ged:158189:side_a").country.code == "TR"
    assert CasualtyReport.objects.get(external_id="ucdp-ged:451336:side_a").country.code == "RU"
    # One-sided violence, a row UCDP dates to a week, and one with international waters.
    assert Event.objects.get(external_id="ucdp-ged:320214").type == "other"
    assert CasualtyReport.objects.get(external_id="ucdp-ged:320214:civilians").best == 12
    angola = Event.objects.get(external_id="ucdp-ged:21300")
    assert (angola.start_date, angola.end_date, angola.date_precision) == (
        datetime.date(1989, 5, 10),
        datetime.date(1989, 5, 16),
        "week",
    )
    assert angola.location_precision == "admin1" and angola.country.code == "AO"
    assert Event.objects.get(external_id="ucdp-ged:23893").location_precision == "international"
    # A total of zero is UCDP's best estimate, and is kept.
    assert CasualtyReport.objects.get(external_id="ucdp-ged:298457:total").best == 0
    # Embedded newlines survive, and the row after them is still mapped right.
    assert "MUNICIPALITY: SAN CALIXTO" in Event.objects.get(external_id="ucdp-ged:377295").description


def test_ucdp_bounds_that_contradict_the_best_are_left_open_with_a_warning():
    lines = {row["id"]: line for line, row in read_csv(UCDP_SAMPLE)[1]}

    out, err = run("import_ucdp", UCDP_SAMPLE)

    report = CasualtyReport.objects.get(external_id="ucdp-ged:236880:total")  # low 3, best 2, high 3
    assert (report.low, report.best, report.high) == (None, 2, 3)
    assert "low of 3" in report.description
    report = CasualtyReport.objects.get(external_id="ucdp-ged:406097:total")  # low 18, best 18, high 17
    assert (report.low, report.best, report.high) == (18, 18, None)
    assert f"line {lines['236880']}, column low:" in err
    assert f"line {lines['406097']}, column high:" in err
    assert "4 warnings" in out and "0 rejected" in out


def test_a_second_import_changes_nothing():
    run("import_ucdp", UCDP_SAMPLE)
    counts, history = database_counts(), history_counts()
    stamps = dict(Event.objects.values_list("pk", "updated_at"))
    report_stamps = dict(CasualtyReport.objects.values_list("pk", "updated_at"))

    out, _ = run("import_ucdp", UCDP_SAMPLE)

    assert "0 created, 0 updated, 200 unchanged, 0 rejected" in out
    assert database_counts() == counts
    assert history_counts() == history
    assert dict(Event.objects.values_list("pk", "updated_at")) == stamps
    assert dict(CasualtyReport.objects.values_list("pk", "updated_at")) == report_stamps


def test_a_changed_row_updates_exactly_that_event(tmp_path):
    header, records = read_csv(UCDP_SAMPLE)
    rows = [row for _, row in records]
    run("import_ucdp", UCDP_SAMPLE)
    stamps = dict(Event.objects.values_list("external_id", "updated_at"))
    history = history_counts()
    changed = next(row for row in rows if row["id"] == "300380")
    # UCDP revises the event: the insurgents' deaths are withdrawn, the headline corrected.
    changed.update(deaths_b="0", deaths_civilians="3", low="3", best="3", high="4")
    changed["source_headline"] = "Thursday 3 January 2013;Abdul Satar Mustafa Hankosh (corrected)"
    revised = tmp_path / "revised.csv"
    write_csv(revised, header, rows)

    out, _ = run("import_ucdp", revised)

    assert "0 created, 1 updated, 199 unchanged, 0 rejected" in out
    total = CasualtyReport.objects.get(external_id="ucdp-ged:300380:total")
    assert (total.low, total.best, total.high) == (3, 3, 4)
    assert total.history.first().history_type == "~"
    assert not CasualtyReport.objects.filter(external_id="ucdp-ged:300380:side_b").exists()
    assert CasualtyReport.objects.get(external_id="ucdp-ged:300380:civilians").best == 3
    event = Event.objects.get(external_id="ucdp-ged:300380")
    assert event.citations.filter(title="Abdul Satar Mustafa Hankosh (corrected)").exists()
    assert event.updated_at > stamps["ucdp-ged:300380"]
    assert {key: value for key, value in Event.objects.values_list("external_id", "updated_at")} == {
        **stamps,
        "ucdp-ged:300380": event.updated_at,
    }
    new_history = {name: count - history[name] for name, count in history_counts().items()}
    # The total updated, civilians created, side B deleted; one headline updated; no event fields changed.
    assert new_history == {"Event": 0, "CasualtyReport": 3, "Citation": 3, "Source": 0}


def test_bad_rows_are_reported_with_line_and_column_and_the_good_rows_import(tmp_path):
    header, records = read_csv(UCDP_SAMPLE)
    rows = [row for _, row in records]
    # Corrupt rows after the first field with newlines, so line numbers differ from row numbers.
    corrupt = {
        105: ("date_start", "2013-02-30 00:00:00.000"),
        110: ("latitude", "123"),
        120: ("id", ""),
        130: ("best", "many"),
        140: ("type_of_violence", "9"),
        150: ("deaths_a", "-4"),
    }
    for index, (column, value) in corrupt.items():
        rows[index][column] = value
    rows[160]["date_end"] = "1990-01-01 00:00:00.000"  # before date_start: the model's clean() says so
    broken = tmp_path / "broken.csv"
    write_csv(broken, header, rows)
    lines = [line for line, _ in read_csv(broken)[1]]
    assert lines[105] != 105 + 2  # the embedded newlines do shift the lines

    out, err = run("import_ucdp", broken)

    assert "200 rows" in out and "193 created, 0 updated, 0 unchanged, 7 rejected" in out
    for index, (column, _) in corrupt.items():
        assert f"rejected line {lines[index]}, column {column}:" in err
    assert "Ensure this value is less than or equal to 90." in err
    assert f"rejected line {lines[160]}, column date_end: The end date (1990-01-01) is before the start date" in err
    assert Event.objects.count() == 193
    assert not Event.objects.filter(external_id=f"ucdp-ged:{rows[110]['id']}").exists()
    assert Event.objects.filter(external_id=f"ucdp-ged:{rows[111]['id']}").exists()


def test_dry_run_stores_nothing():
    out, _ = run("import_ucdp", UCDP_SAMPLE, "--dry-run")

    assert out.startswith("Dry run, nothing was saved.")
    assert "200 created" in out
    assert database_counts() == {"events": 0, "reports": 0, "citations": 0, "sources": 0}
    assert history_counts() == {"Event": 0, "CasualtyReport": 0, "Citation": 0, "Source": 0}


class Interrupted(Exception):
    pass


def test_an_interrupted_import_leaves_whole_events_and_a_rerun_completes_it(monkeypatch):
    rows = ucdp_rows()
    sync_citations = bulk.BulkWriter._sync_citations
    batches = []

    def fail_in_the_second_batch(self, cursor, subjects):
        # The second batch's events and reports are written by now; its citations are not.
        batches.append(len(subjects))
        if len(batches) == 2:
            raise Interrupted
        return sync_citations(self, cursor, subjects)

    monkeypatch.setattr(bulk.BulkWriter, "_sync_citations", fail_in_the_second_batch)
    with pytest.raises(Interrupted):
        run("import_ucdp", UCDP_SAMPLE, "--batch-size", 50)
    monkeypatch.undo()

    assert len(batches) == 2
    assert Event.objects.count() == 50  # the first batch, whole; nothing of the second
    expected = {f"ucdp-ged:{row['id']}": row for row in rows}
    for event in Event.objects.prefetch_related("casualty_reports__citations", "citations"):
        row = expected[event.external_id]
        parties = sum(1 for column in PARTY_COLUMNS.values() if int(row[column]) > 0)
        offices = [office for office in row["source_office"].split(";") if office.strip()]
        assert len(event.casualty_reports.all()) == 1 + parties
        assert all(len(report.citations.all()) == 1 for report in event.casualty_reports.all())
        assert len(event.citations.all()) == 1 + len(offices)

    out, _ = run("import_ucdp", UCDP_SAMPLE, "--batch-size", 50)

    assert "150 created, 0 updated, 50 unchanged, 0 rejected" in out
    assert database_counts() == expected_ucdp_counts(rows)


def test_imported_events_and_claims_are_in_the_api(api):
    rows = ucdp_rows()
    run("import_ucdp", UCDP_SAMPLE)
    ucdp = Source.objects.get(slug="ucdp")

    response = api.get("/api/events/", {"external_id__startswith": "ucdp-ged:", "limit": 5})
    assert response.status_code == HTTPStatus.OK
    assert response.json()["count"] == len(rows)

    response = api.get("/api/casualty-reports/", {"claimed_by": ucdp.pk, "limit": 5})
    assert response.status_code == HTTPStatus.OK
    assert response.json()["count"] == expected_ucdp_counts(rows)["reports"]

    response = api.get("/api/casualty-reports/", {"external_id": "ucdp-ged:300380:total"})
    (report,) = response.json()["results"]
    assert (report["low"], report["best"], report["high"], report["as_of_date"]) == (2, 2, 2, "2013-01-03")


def test_a_file_of_another_layout_is_refused(tmp_path):
    with pytest.raises(CommandError, match="not a UCDP GED file: it lacks the columns"):
        run("import_ucdp", ACLED_SAMPLE)
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_ucdp", tmp_path / "missing.csv")
    assert Event.objects.count() == 0


def test_acled_rows_import():
    _, records = read_csv(ACLED_SAMPLE)
    rows = [row for _, row in records]

    out, _ = run("import_acled", ACLED_SAMPLE)

    assert f"{len(rows)} created, 0 updated, 0 unchanged, 0 rejected" in out
    assert Event.objects.filter(external_id__startswith="acled:").count() == len(rows)
    with_fatalities = [row for row in rows if int(row["fatalities"]) > 0]
    reports = CasualtyReport.objects.filter(external_id__startswith="acled:")
    assert reports.count() == len(with_fatalities)
    assert reports.aggregate(total=Sum("low"))["total"] == sum(int(row["fatalities"]) for row in rows)
    assert not reports.filter(best__isnull=False).exists()

    clash = Event.objects.get(external_id="acled:XUA900001")
    assert (
        clash.title
        == "Armed clash: Military Forces of Russia (2000-) vs Military Forces of Ukraine (2019-) in Pokrovsk"
    )
    assert (clash.type, clash.country.code, clash.admin1, clash.location_precision) == (
        "combat",
        "UA",
        "Donetsk",
        "exact",
    )
    assert (clash.start_date, clash.end_date, clash.date_precision) == ((datetime.date(2024, 2, 10),) * 2 + ("day",))
    assert [(c.source.name, c.role) for c in clash.citations.select_related("source")] == [
        ("Armed Conflict Location & Event Data Project (ACLED)", "reported_by"),
        ("Ukrainska Pravda", "reported_by"),
        ("Ministry of Defence of Ukraine", "reported_by"),
    ]
    assert Source.objects.get(name="Ministry of Defence of Ukraine").kind == "government"
    report = CasualtyReport.objects.get(external_id="acled:XUA900001:fatalities")
    assert (report.low, report.kind, report.category, report.event) == (3, "estimate", "killed", clash)
    assert report.citations.get().source.slug == "acled"

    week = Event.objects.get(external_id="acled:XUA900002")  # time precision 2, no fatalities
    assert (week.start_date, week.end_date, week.date_precision) == (
        datetime.date(2024, 2, 9),
        datetime.date(2024, 2, 15),
        "week",
    )
    assert (week.type, week.location_precision) == ("strike", "near")
    assert not week.casualty_reports.exists()
    month = Event.objects.get(external_id="acled:XUA900003")  # "15 January 2024", time precision 3
    assert (month.start_date, month.end_date, month.date_precision) == (
        datetime.date(2024, 1, 1),
        datetime.date(2024, 1, 31),
        "month",
    )
    assert month.location_precision == "admin1"
    assert '"temporary" base\nin Kherson region' in month.description
    assert Event.objects.get(external_id="acled:XSD900004").type == "other"
    assert Event.objects.get(external_id="acled:XSD900005").type == "deployment"
    assert Event.objects.get(external_id="acled:XMM900006").country.code == "MM"
    assert Event.objects.get(external_id="acled:XUA900007").country.code == "UA"  # no iso, by name

    out, _ = run("import_acled", ACLED_SAMPLE)
    assert f"0 created, 0 updated, {len(rows)} unchanged" in out


def claims_snapshot():
    """Every report and event as the claims format carries them, keyed by the ids the format uses."""

    def key(record, model_name):
        return record.external_id or f"local:{model_name}:{record.pk}"

    def citations(record):
        return [
            (c.source.slug, c.source.name, c.source.kind, c.source.reliability, c.source.country.code, c.role)
            + (c.url, c.title, c.published_date, c.accessed_date, c.archive_url, c.quote)
            for c in record.citations.all()
        ]

    ordered = Prefetch("citations", Citation.objects.select_related("source").order_by("pk"))
    event_fields = [f.attname for f in Event._meta.concrete_fields if f.name not in {"id", "created_at", "updated_at"}]
    report_fields = ["country", "category", "kind", "low", "best", "high", "as_of_date", "period_start"]
    report_fields += ["horizon_date", "date_precision", "date_text", "credibility", "description", "unit_id"]
    events = {
        key(event, "event"): [getattr(event, name) for name in event_fields if name != "external_id"]
        + [citations(event)]
        for event in Event.objects.prefetch_related(ordered)
    }
    reports = {
        key(report, "casualty-report"): [getattr(report, name) for name in report_fields]
        + [key(report.event, "event") if report.event else None, citations(report)]
        for report in CasualtyReport.objects.select_related("event").prefetch_related(ordered)
    }
    return events, reports


def test_claims_csv_export_then_import_reproduces_reports_events_and_citations(tmp_path):
    call_command("loaddata", "seed", verbosity=0)
    run("import_ucdp", UCDP_SAMPLE)
    before = claims_snapshot()
    exported = tmp_path / "claims.csv"

    out, _ = run("export_csv", exported)

    report_count, event_only = CasualtyReport.objects.count(), Event.objects.filter(casualty_reports=None).count()
    assert f"Wrote {report_count + event_only:,} rows" in out
    wipe_claims()

    out, err = run("import_csv", exported)

    assert f"{report_count + event_only} created, 0 updated, 0 unchanged, 0 rejected" in out, err
    assert claims_snapshot() == before
    out, _ = run("import_csv", exported)
    assert f"0 created, 0 updated, {report_count + event_only} unchanged" in out
    again = tmp_path / "again.csv"
    run("export_csv", again)
    assert len(again.read_text().splitlines()) == len(exported.read_text().splitlines())


def wipe_claims():
    """Delete every event, report, citation and source (units stay: the claims format names them)."""
    with override_settings(SIMPLE_HISTORY_ENABLED=False):  # a quick wipe: no history row per deleted record
        for model in (Citation, CasualtyReport, EventUnit, Event, Source):
            model.objects.all().delete()


def claims_with_local_and_external_ids():
    """The seed's records (entered here, no external id), UCDP's, and hand-entered reports: one of
    a UCDP event, one of a unit whose name another unit of its country shares."""
    call_command("load_seed", verbosity=0)
    run("import_ucdp", UCDP_SAMPLE)
    event = Event.objects.exclude(external_id="").first()
    make_report(event=event, best=12, citations=[(Source.objects.get(slug="nis"), "disputed_by")])
    make_unit(name="Unnamed brigade", country="KP")
    make_report(unit=make_unit(name="Unnamed brigade", country="KP"), best=30)


def updated_stamps():
    return {
        model.__name__: dict(model.objects.values_list("pk", "updated_at"))
        for model in (Event, CasualtyReport, Citation, Source)
    }


def test_claims_csv_export_then_import_into_the_same_database_changes_nothing(tmp_path):
    claims_with_local_and_external_ids()
    exported = tmp_path / "claims.csv"
    out, _ = run("export_csv", exported)
    rows = CasualtyReport.objects.count() + Event.objects.filter(casualty_reports=None).count()
    counts, history, stamps, before = database_counts(), history_counts(), updated_stamps(), claims_snapshot()

    out, err = run("import_csv", exported)

    assert f"0 created, 0 updated, {rows} unchanged, 0 rejected" in out, err
    assert "0 new sources" in out
    assert database_counts() == counts
    assert history_counts() == history
    assert updated_stamps() == stamps
    assert claims_snapshot() == before
    again = tmp_path / "again.csv"
    run("export_csv", again)
    assert again.read_bytes() == exported.read_bytes()


def test_a_record_entered_here_is_updated_from_its_row(tmp_path):
    """``local:casualty-report:<id>`` names the report with that id: a changed row updates it."""
    claims_with_local_and_external_ids()
    report = CasualtyReport.objects.filter(external_id="", best=4000).get()
    exported = tmp_path / "claims.csv"
    run("export_csv", exported)
    header, records = read_csv(exported)
    rows = [row for _, row in records]
    edited = next(row for row in rows if row["report_id"] == f"local:casualty-report:{report.pk}")
    edited["best"], edited["credibility"] = "4500", "2"
    write_csv(exported, header, rows)
    counts, history = database_counts(), history_counts()

    out, err = run("import_csv", exported)

    assert f"0 created, 1 updated, {len(rows) - 1} unchanged, 0 rejected" in out, err
    assert database_counts() == counts
    report.refresh_from_db()
    assert (report.best, report.credibility, report.external_id) == (4500, 2, "")
    latest = report.history.latest()
    assert (latest.history_type, latest.prev_record.best) == ("~", 4000)
    assert history_counts() == {**history, "CasualtyReport": history["CasualtyReport"] + 1}


def sorted_row(record):
    return sorted(record[1].items())


def test_claims_csv_export_then_import_into_an_empty_database_reproduces_the_records_and_their_ids(tmp_path):
    claims_with_local_and_external_ids()
    local_ids = {
        model.__name__: set(model.objects.filter(external_id="").values_list("pk", flat=True))
        for model in (Event, CasualtyReport)
    }
    exported = tmp_path / "claims.csv"
    run("export_csv", exported)
    rows = CasualtyReport.objects.count() + Event.objects.filter(casualty_reports=None).count()
    counts, before = database_counts(), claims_snapshot()
    wipe_claims()

    out, err = run("import_csv", exported)

    assert f"{rows} created, 0 updated, 0 unchanged, 0 rejected" in out, err
    assert database_counts() == counts
    assert claims_snapshot() == before
    for model in (Event, CasualtyReport):
        assert set(model.objects.filter(external_id="").values_list("pk", flat=True)) == local_ids[model.__name__]
    again = tmp_path / "again.csv"
    run("export_csv", again)
    # The same rows; a report entered here may now sort before imported ones of its event, which took new ids.
    assert sorted(map(sorted_row, read_csv(again)[1])) == sorted(map(sorted_row, read_csv(exported)[1]))
    assert make_event().pk > max(local_ids["Event"]), "records created later take new ids"


def test_local_ids_of_another_database(tmp_path):
    """A local key keeps its id where the id is free (new records take ids after it); where an
    imported record has the id, a new record is created and keeps the key as its external id."""
    run("import_ucdp", UCDP_SAMPLE)
    free = Event.objects.order_by("pk").last().pk + 1
    taken = Event.objects.exclude(external_id="").first()
    header = read_csv_header_of_export(tmp_path)
    event = {"event_type": "combat", "event_start_date": "2025-01-11", "event_country": "RU"}
    rows = [
        {"event_id": f"local:event:{free}", "event_title": "Entered elsewhere", **event},
        {"event_id": "desk:kursk", "event_title": "Collected by hand", **event},
        {"event_id": f"local:event:{taken.pk}", "event_title": "Entered elsewhere too", **event},
    ]
    path = tmp_path / "elsewhere.csv"
    write_csv(path, header, rows)

    out, err = run("import_csv", path)

    assert "3 created, 0 updated, 0 unchanged, 0 rejected" in out, err
    assert Event.objects.get(pk=free).external_id == ""
    assert Event.objects.get(external_id="desk:kursk").pk > free
    moved = Event.objects.get(external_id=f"local:event:{taken.pk}")
    assert moved.title == "Entered elsewhere too"
    taken.refresh_from_db()
    assert taken.title != "Entered elsewhere too", "the imported record with that id is left alone"
    assert make_event().pk > moved.pk
    out, _ = run("import_csv", path)
    assert "0 created, 0 updated, 3 unchanged" in out


def test_claims_csv_rows_written_by_hand(tmp_path):
    call_command("loaddata", "seed", verbosity=0)
    header = read_csv_header_of_export(tmp_path)
    rows = [
        {
            "report_id": "desk:kursk-1",
            "event_id": "desk:kursk",
            "country": "kp",
            "category": "killed",
            "kind": "estimate",
            "low": "300",
            "as_of_date": "2025-01-13",
            "event_title": "Fighting in Kursk Oblast",
            "event_type": "combat",
            "event_start_date": "2025-01-01",
            "event_date_precision": "month",
            "event_country": "RU",
            "citation1_source": "nis",
            "citation1_role": "claimed_by",
            "citation1_quote": "about 300 killed",
        },
        {"report_id": "desk:kursk-2", "event_id": "desk:kursk", "category": "wounded", "kind": "estimate"},
        {"report_id": "desk:kursk-3", "category": "killed", "kind": "estimate", "low": "5", "high": "2"},
        {"report_id": "desk:kursk-4", "category": "killed", "kind": "estimate", "best": "1", "unit": "No such unit"},
        {"category": "killed", "kind": "count", "best": "1"},
    ]
    path = tmp_path / "desk.csv"
    write_csv(path, header, rows)
    lines = [line for line, _ in read_csv(path)[1]]

    out, err = run("import_csv", path)

    assert "1 created, 0 updated, 0 unchanged, 4 rejected" in out
    assert f"line {lines[1]}, column event_id: desk:kursk is also on line {lines[0]}, with different values" in err
    assert f"line {lines[2]}, column high: The figure high (2) is less than its low (5)." in err
    assert f"line {lines[3]}, column unit: no unit is named 'No such unit'" in err
    assert f"line {lines[4]}, column report_id: is required" in err
    report = CasualtyReport.objects.get(external_id="desk:kursk-1")
    assert (report.country.code, report.low, report.best, report.credibility) == ("KP", 300, None, 6)
    assert report.event.end_date == datetime.date(2025, 1, 1)
    (citation,) = report.citations.all()
    assert (citation.source.slug, citation.quote) == ("nis", "about 300 killed")
    assert citation.source.name == "National Intelligence Service of South Korea"  # the existing source, untouched


def test_an_import_finds_a_source_by_its_name_or_an_alias(tmp_path):
    call_command("loaddata", "seed", verbosity=0)  # NIS has the aliases "NIS" and "South Korean intelligence"
    header = read_csv_header_of_export(tmp_path)
    rows = [
        {
            "report_id": f"desk:alias-{n}",
            "category": "killed",
            "kind": "estimate",
            "best": str(n),
            "country": "KP",
            "citation1_source": slug,
            "citation1_source_name": name,
            "citation1_role": "claimed_by",
        }
        for n, (slug, name) in enumerate(
            [("south-korean-intelligence", "South Korean intelligence"), ("nis-seoul", "NIS"), ("kcna", "KCNA")], 1
        )
    ]
    path = tmp_path / "aliases.csv"
    write_csv(path, header, rows)
    sources_before = Source.objects.count()

    out, err = run("import_csv", path)

    assert "3 created" in out, err
    nis = Source.objects.get(slug="nis")
    for n in (1, 2):
        assert CasualtyReport.objects.get(external_id=f"desk:alias-{n}").citations.get().source == nis
    assert Source.objects.count() == sources_before + 1  # only KCNA is new
    assert CasualtyReport.objects.get(external_id="desk:alias-3").citations.get().source.name == "KCNA"


def read_csv_header_of_export(tmp_path):
    path = tmp_path / "export.csv"
    run("export_csv", path)
    with open(path, newline="", encoding="utf-8") as file:
        return next(csv.reader(file))


def test_import_problems_do_not_need_a_database_round_trip():
    """The parsing helpers reject bad values with the column named, before anything is written."""
    row = base.RowReader({"when": "31/12/2024", "n": "1.5", "lat": "nan", "ok": "2024-12-31 00:00:00.000"}, line=7)
    assert row.date("when") is None
    assert row.integer("n") is None
    assert row.number("lat") is None
    assert row.date("ok") == datetime.date(2024, 12, 31)
    assert [str(problem) for problem in row.problems] == [
        "line 7, column when: '31/12/2024' is not a date (expected YYYY-MM-DD).",
        "line 7, column n: '1.5' is not a whole number.",
        "line 7, column lat: 'nan' is not a number.",
    ]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Russia (Soviet Union)", "RU"),
        ("DR Congo (Zaire)", "CD"),
        ("Yemen (North Yemen)", "YE"),
        ("Myanmar (Burma)", "MM"),
        ("Cambodia (Kampuchea)", "KH"),
        ("Bosnia-Herzegovina", "BA"),
        ("Serbia (Yugoslavia)", "RS"),
        ("Zimbabwe (Rhodesia)", "ZW"),
        ("Madagascar (Malagasy)", "MG"),
        ("Kingdom of eSwatini (Swaziland)", "SZ"),
        ("Ivory Coast", "CI"),
        ("Atlantis", ""),
    ],
)
def test_country_names_of_the_datasets(name, code):
    assert base.country_code(name) == code


def test_progress_bar_is_off_unless_asked(tmp_path, capsys):
    shutil.copy(ACLED_SAMPLE, tmp_path / "a.csv")
    summary = base.import_file(path=tmp_path / "a.csv", importer=AcledImporter())
    assert summary.created == 7 and capsys.readouterr().err == ""
    summary = base.import_file(path=tmp_path / "a.csv", importer=AcledImporter(), progress=True)
    assert summary.unchanged == 7 and "a.csv" in capsys.readouterr().err
