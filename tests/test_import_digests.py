"""Re-importing rows an import kept by digest (events/imported.py): unchanged rows are not read
again, and whatever changed the records since (a curator, another import, SQL) has them read
again and restored, exactly as when every row was compared."""

import csv
import io

import pytest
from django.core.management import call_command
from django.db import connection

from events import imported
from events.importers import base
from events.importers.claims_csv import ClaimsCsvImporter
from events.importers.ucdp import UcdpGedImporter
from events.models import CasualtyReport, Citation, Event, Source, Unit

from .test_importers import (
    UCDP_SAMPLE,
    database_counts,
    history_counts,
    read_csv,
    read_csv_header_of_export,
    run,
    write_csv,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def parsed(monkeypatch):
    """The lines of the rows the importers read (parse), in the last import run."""
    lines = []
    for importer in (UcdpGedImporter, ClaimsCsvImporter):
        original = importer.parse_row

        def parse_row(self, row, original=original):
            lines.append(row.line)
            return original(self, row)

        monkeypatch.setattr(importer, "parse_row", parse_row)
    return lines


def reimport(parsed, path=UCDP_SAMPLE, command="import_ucdp"):
    parsed.clear()
    return run(command, path)


def kept() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {imported.TABLE}")
        return cursor.fetchone()[0]


def warned_lines(err: str) -> list[int]:
    """The lines of the rows an import warned about."""
    return sorted({int(line.split(",")[0].removeprefix("warning line ")) for line in err.splitlines()})


@pytest.fixture
def warned(parsed):
    """The sample imported: the lines of its rows with warnings, which are read every time."""
    _, err = run("import_ucdp", UCDP_SAMPLE)
    lines = warned_lines(err)
    assert lines and len(parsed) == 200 and kept() == 200 - len(lines)
    return lines


def sample_records() -> tuple[str, list[tuple[int, str]]]:
    """The sample's header line and each record's (line, text) as the file has them."""
    lines = UCDP_SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    starts = [line for line, _ in read_csv(UCDP_SAMPLE)[1]]
    ends = [*starts[1:], len(lines) + 1]
    return lines[0], [(start, "".join(lines[start - 1 : end - 1])) for start, end in zip(starts, ends, strict=True)]


def line_of(external_id: str) -> int:
    number = external_id.removeprefix("ucdp-ged:")
    return next(line for line, row in read_csv(UCDP_SAMPLE)[1] if row["id"] == number)


def test_an_unchanged_file_is_not_read_again_and_writes_nothing(parsed, warned):
    state, history = database_counts(), history_counts()

    out, _ = reimport(parsed)

    assert "0 created, 0 updated, 200 unchanged, 0 rejected" in out
    assert parsed == warned
    assert database_counts() == state and history_counts() == history


def test_a_curators_edits_are_undone_by_a_reimport_as_before(parsed, warned):
    events = list(Event.objects.order_by("id")[:6])
    original = {event.pk: event.title for event in events}
    # An event retitled (through the ORM's save, as the admin does), a report's description changed
    # by update(), a citation's headline corrected, a citation added in the importer's role,
    # one deleted, and a report deleted.
    events[0].title = "Retitled by a curator"
    events[0].save()
    report = events[1].casualty_reports.order_by("id").first()
    CasualtyReport.objects.filter(pk=report.pk).update(description="Edited by a curator")
    citation = events[2].citations.order_by("id").first()
    Citation.objects.filter(pk=citation.pk).update(title="Corrected by a curator")
    Citation.objects.create(event=events[3], source=Source.objects.get(slug="ucdp"), role=citation.role)
    events[4].citations.order_by("-id").first().delete()
    events[5].casualty_reports.order_by("id").first().delete()

    out, _ = reimport(parsed)

    assert "0 created, 6 updated, 194 unchanged, 0 rejected" in out
    assert parsed == sorted({*warned, *(line_of(event.external_id) for event in events)})
    assert {pk: title for pk, title in Event.objects.filter(pk__in=original).values_list("pk", "title")} == original
    assert CasualtyReport.objects.get(pk=report.pk).description == report.description
    assert Citation.objects.get(pk=citation.pk).title == citation.title
    assert events[3].citations.count() == Event.objects.get(pk=events[3].pk).citations.count()
    out, _ = reimport(parsed)
    assert "200 unchanged" in out and parsed == warned


def test_deleted_records_are_imported_again(parsed, warned):
    gone = Event.objects.order_by("id").first()
    for report in gone.casualty_reports.all():  # reports protect their event
        report.delete()
    gone.delete()

    out, _ = reimport(parsed)

    assert "1 created, 0 updated, 199 unchanged" in out
    assert parsed == sorted({*warned, line_of(gone.external_id)})
    assert Event.objects.filter(external_id=gone.external_id).exists()


def test_changed_rows_are_read_and_the_rest_are_not(parsed, warned, tmp_path):
    header, records = sample_records()
    changed_line, changed = records[10]
    _, row = read_csv(UCDP_SAMPLE)[1][10]
    place = f",{row['where_coordinates']},"  # where_coordinates, the first of the columns that may say it
    texts = [text for _, text in records]
    texts[10] = changed.replace(place, place[:-1] + " (centre),", 1)
    path = tmp_path / "revised.csv"
    path.write_text(header + "".join(texts), encoding="utf-8")

    out, _ = reimport(parsed, path)

    assert "0 created, 1 updated, 199 unchanged" in out
    assert parsed == sorted({*warned, changed_line})
    assert Event.objects.get(external_id=f"ucdp-ged:{row['id']}").place_name.endswith("(centre)")
    # The original row describes the record as it was: it is read, and restores it.
    out, _ = reimport(parsed)
    assert "0 created, 1 updated, 199 unchanged" in out and parsed == sorted({*warned, changed_line})


def test_a_repeated_row_is_still_rejected(parsed, warned, tmp_path):
    header, records = sample_records()
    path = tmp_path / "repeated.csv"
    path.write_text(header + "".join(text for _, text in records) + records[3][1], encoding="utf-8")
    repeated = read_csv(path)[1][-1][0]
    _, row = read_csv(UCDP_SAMPLE)[1][3]

    out, err = reimport(parsed, path)

    assert "0 created, 0 updated, 200 unchanged, 1 rejected" in out
    assert f"line {repeated}, column id: ucdp-ged:{row['id']}:total is also on line {records[3][0]}." in err
    assert parsed == warned + ([repeated] if records[3][0] in warned else [])


def test_sources_created_by_an_import_keep_the_digests_and_a_curators_drop_them(parsed, warned):
    # The sample's import created its sources batch by batch, and kept every row without warnings.
    Source.objects.create(slug="a-new-source", name="A new source")
    assert kept() == 0
    out, _ = reimport(parsed)
    assert "200 unchanged" in out and len(parsed) == 200
    assert kept() == 200 - len(warned)
    Source.objects.filter(slug="ucdp").update(name="Uppsala Conflict Data Program (renamed)")
    assert kept() == 0


def test_rows_with_warnings_are_read_every_time(parsed):
    _, err = run("import_ucdp", UCDP_SAMPLE)

    _, err_again = reimport(parsed)

    assert parsed == warned_lines(err)
    assert err_again == err  # the same warnings, again


def test_another_importers_code_or_header_reads_every_row_again():
    importer = UcdpGedImporter()
    header = read_csv(UCDP_SAMPLE)[0]
    fields = ["1"] * len(header)
    digest = base.row_digest(base.row_salt(importer, header), fields)
    assert base.row_digest(base.row_salt(importer, header), fields) == digest
    assert base.row_digest(base.row_salt(importer, header[::-1]), fields) != digest
    assert base.row_digest(base.row_salt(ClaimsCsvImporter(), header), fields) != digest
    assert base.row_digest(base.row_salt(importer, header), ["1", *fields[1:-1], "11"]) != digest


def test_claims_rows_naming_a_unit_are_read_again_when_units_change(parsed, tmp_path):
    call_command("load_seed", verbosity=0)
    header = read_csv_header_of_export(tmp_path)
    unit = Unit.objects.order_by("id").first()
    rows = [
        {"report_id": "desk:unit", "category": "killed", "kind": "estimate", "best": "4", "unit": unit.name},
        {"report_id": "desk:plain", "category": "killed", "kind": "estimate", "best": "5", "country": "UA"},
    ]
    path = tmp_path / "desk.csv"
    write_csv(path, header, rows)
    run("import_csv", path)
    out, _ = reimport(parsed, path, "import_csv")
    assert "2 unchanged" in out and parsed == []

    Unit.objects.create(name=unit.name, country=unit.country)
    out, err = reimport(parsed, path, "import_csv")

    assert parsed == [2]  # only the row naming the unit, whose name is now ambiguous
    assert "0 unchanged, 1 rejected" not in out and "1 unchanged, 1 rejected" in out
    assert f"several units are named {unit.name!r}" in err


def test_a_dry_run_reads_kept_rows_as_unchanged_and_keeps_nothing_new(parsed, tmp_path):
    out, _ = run("import_ucdp", UCDP_SAMPLE, "--dry-run")
    assert "200 created" in out and kept() == 0
    _, err = run("import_ucdp", UCDP_SAMPLE)
    parsed.clear()
    out, _ = run("import_ucdp", UCDP_SAMPLE, "--dry-run")
    assert "200 unchanged" in out and parsed == warned_lines(err)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_a_truncate_forgets_the_digests():
    run("import_ucdp", UCDP_SAMPLE)
    assert kept()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the foreign keys checked: no event pending
        cursor.execute("TRUNCATE events_citation")
    assert kept() == 0


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_repeated_keys_are_rejected_with_the_line_that_first_gave_them(tmp_path, batch_size):
    header, records = read_csv(UCDP_SAMPLE)
    (_, row), (_, other) = records[3], records[4]
    changed = {**row, "where_coordinates": row["where_coordinates"] + " (moved)"}
    path = tmp_path / "repeats.csv"
    write_csv(path, header, [row, other, row, changed])
    lines = [line for line, _ in read_csv(path)[1]]

    out, err = run("import_ucdp", path, "--batch-size", batch_size)

    assert "2 created, 0 updated, 0 unchanged, 2 rejected" in out
    given = CasualtyReport.objects.filter(event__external_id=f"ucdp-ged:{row['id']}").values_list(
        "external_id", flat=True
    )
    assert given
    for repeat in lines[2:]:
        for key in given:
            assert f"line {repeat}, column id: {key} is also on line {lines[0]}." in err
    assert f"line {lines[3]}, column id: ucdp-ged:{row['id']} is also on line {lines[0]}, with different values." in err


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_a_report_key_given_with_its_event_and_alone_is_a_repeat(tmp_path, batch_size):
    header = read_csv_header_of_export(tmp_path)
    event = {"event_id": "desk:ev", "event_title": "Shelling", "event_type": "strike", "event_start_date": "2025-01-01"}
    report = {"category": "killed", "kind": "estimate", "country": "UA"}
    rows = [
        {**report, **event, "report_id": "desk:ev:total", "best": "3"},
        {**report, **event, "report_id": "desk:ev:wounded", "best": "4"},
        {**report, "report_id": "desk:ev:total", "best": "5"},
        {**report, "report_id": "desk:ev:wounded", "best": "6"},
        {**report, "report_id": "desk:loose", "best": "7"},
        {**report, **event, "report_id": "desk:loose", "best": "8"},
    ]
    path = tmp_path / "repeats.csv"
    write_csv(path, header, rows)
    lines = [line for line, _ in read_csv(path)[1]]

    out, err = run("import_csv", path, "--batch-size", batch_size)

    assert "3 created, 0 updated, 0 unchanged, 3 rejected" in out
    assert f"line {lines[2]}, column report_id: desk:ev:total is also on line {lines[0]}." in err
    assert f"line {lines[3]}, column report_id: desk:ev:wounded is also on line {lines[1]}." in err
    assert f"line {lines[5]}, column report_id: desk:loose is also on line {lines[4]}." in err
    assert CasualtyReport.objects.get(external_id="desk:ev:total").best == 3


def csv_records(text: str) -> list[tuple[int, list[str]]]:
    """(line, fields) of each record as csv reads the text, lines counted as the importers always did."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records, previous = [], 0
    for fields in reader:
        line, previous = previous + 1, reader.line_num
        if fields:
            records.append((line, fields))
    return records


def records_of(text: str) -> list[tuple[int, list[str]]]:
    """(line, fields) of each record as base.Records gives them, read by csv from the first it cannot delimit."""
    records, found = base.Records(io.StringIO(text, newline="")), []
    while True:
        for line, lines, fields in records:
            if fields is None:
                fields = records.fields(lines)
                if fields is None:
                    records.read_by_csv(line, lines)
                    break
            found.append((line, fields))
        else:
            return found


@pytest.mark.parametrize(
    "text",
    [
        'a,b\r\n1,2\r\n"x, y","z"\r\n',
        'a,b\n"line one\nline two",2\n\n3,"say ""hi"""\n',
        'a,b\nab"c,d\ne,"f\ng",h\ni,j\n',  # a quote in a field without quotes: csv keeps it as a character
        'a,b\n"x"y,z\n"p\nq",r\n',  # text after a closing quote
        'a,b\n1,2\n"never closed,3\n4,5\n',
        'a,b\n1,"2"\n\n\n"3\r\n4",5',
    ],
)
def test_records_are_those_csv_reads(text):
    assert records_of(text) == csv_records(text)


def test_a_file_with_a_quote_csv_reads_as_a_character_imports_as_before(parsed, tmp_path):
    header, records = sample_records()
    _, row = read_csv(UCDP_SAMPLE)[1][50]
    place = f",{row['where_coordinates']},"
    assert '"' not in row["where_coordinates"] and place in records[50][1]
    texts = [text for _, text in records]
    # A quote inside a field written without quotes, then a row with a field too many.
    texts[50] = records[50][1].replace(place, place[:-1] + ' "centre,', 1)
    texts[60] = texts[60].rstrip("\n") + ",extra\n"
    path = tmp_path / "quote.csv"
    path.write_text(header + "".join(texts), encoding="utf-8")
    (extra_line, _) = [record for record in csv_records(path.read_text(encoding="utf-8"))[1:]][60]

    for _ in range(2):
        out, err = reimport(parsed, path)
        assert "200 rows" in out and "1 rejected" in out
        assert f"line {extra_line}, column (row): the row has" in err

    assert Event.objects.get(external_id=f"ucdp-ged:{row['id']}").place_name.endswith(' "centre')
    assert Event.objects.count() == 199


def test_one_row_is_kept_per_record_whatever_the_files_and_code_that_wrote_them(parsed, warned, tmp_path, monkeypatch):
    count = kept()
    header, records = sample_records()
    # Five rows differ in a column the importer does not read: read again, the records unchanged.
    text = "".join(text for _, text in records)
    assert text.count(",Clear,") > 5
    revised = tmp_path / "revised.csv"
    revised.write_text(header + text.replace(",Clear,", ",clear,", 5), encoding="utf-8")
    out, _ = reimport(parsed, revised)
    assert "200 unchanged" in out and len(parsed) == len(warned) + 5
    assert kept() == count
    # The importer's code changed: every row is read again, and replaces its kept row.
    monkeypatch.setattr(base, "code_digest", lambda: b"another version".ljust(32, b"."))
    out, _ = reimport(parsed)
    assert len(parsed) == 200 and "200 unchanged" in out
    assert kept() == count
    out, _ = reimport(parsed)
    assert parsed == warned
