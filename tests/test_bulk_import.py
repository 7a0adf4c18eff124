"""The set-based import path: the database state it leaves, re-imports of unchanged and revised
files, an import killed mid-file, the models' rules on plain values, and the import benchmark.

``tests/data/ucdp_ged_v23_1_sample200.expected.json.gz`` holds what the previous writer (model
instances through ``bulk_create_with_history`` / ``bulk_update_with_history``, commit ea48ffd)
left in the database after importing the real UCDP sample, and after then importing a revised
copy of it (:func:`revise`): every event, report, citation and source, and every history entry,
keyed by external ids and slugs rather than by database ids. The bulk path must reproduce it.
"""

import datetime
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from events.importers import bulk
from events.importers.rules import rules_of
from events.models import CasualtyReport, Citation, Event, Source

from .test_importers import (
    UCDP_SAMPLE,
    Interrupted,
    database_counts,
    history_counts,
    read_csv,
    read_csv_header_of_export,
    run,
    write_csv,
)

EXPECTED_STATE = UCDP_SAMPLE.with_suffix(".expected.json.gz")
SKIPPED = {"id", "created_at", "updated_at"}

pytestmark = pytest.mark.django_db


def revise(rows):
    """A later release of the sample: figures, headlines, offices and places revised in a few rows."""
    by_id = {row["id"]: row for row in rows}
    # The insurgents' deaths withdrawn (a report deleted), civilians' added, a headline corrected.
    by_id["300380"].update(deaths_b="0", deaths_civilians="3", low="3", best="3", high="4")
    by_id["300380"]["source_headline"] = "Thursday 3 January 2013;Abdul Satar Mustafa Hankosh (corrected)"
    # An office added (a citation created) and the place renamed (the event's own fields).
    row = by_id["158189"]
    row.update(source_office=row["source_office"] + ";Hurriyet Daily News", source_headline="", source_date="")
    row["where_coordinates"] += " (district centre)"
    # Every office dropped: its citations deleted, only UCDP's left.
    by_id["320214"].update(source_office="", source_headline="", source_date="")
    return rows


def write_revised_sample(path: Path) -> Path:
    header, records = read_csv(UCDP_SAMPLE)
    write_csv(path, header, revise([row for _, row in records]))
    return path


def plain(value):
    """A value as JSON holds it: dates and countries as text."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return getattr(value, "code", None) or str(value)


def values(row: dict, *, keys: dict) -> dict:
    """A row's fields without ids and timestamps; foreign keys named by their records' keys."""
    result = {}
    for name, value in row.items():
        if name in SKIPPED or name.startswith("history_") and name not in {"history_type", "history_change_reason"}:
            continue
        if name in keys:
            result[name] = keys[name].get(value)
        else:
            result[name] = plain(value)
    return result


def database_state() -> dict:
    """Everything an import writes, independent of database ids (which differ between backends)."""
    event_keys = dict(Event.history.values_list("id", "external_id").distinct())
    report_keys = dict(CasualtyReport.history.values_list("id", "external_id").distinct())
    source_keys = dict(Source.history.values_list("id", "slug").distinct())
    keys = {"event_id": event_keys, "casualty_report_id": report_keys, "source_id": source_keys}
    citation_keys = {}
    state = {}
    for model, key in ((Source, "slug"), (Event, "external_id"), (CasualtyReport, "external_id")):
        state[model.__name__] = {row[key]: values(row, keys=keys) for row in model.objects.values()}
    citations = {}
    for row in Citation.objects.order_by("pk").values():
        subject = f"event {event_keys[row['event_id']]}" if row["event_id"] else ""
        subject = subject or f"report {report_keys[row['casualty_report_id']]}"
        citations.setdefault(subject, []).append(values(row, keys=keys))
        citation_keys[row["id"]] = f"{subject} #{len(citations[subject])}"
    state["Citation"] = citations
    for model in (Source, Event, CasualtyReport, Citation):
        history = model.history.order_by("history_id").values()
        if model is Citation:
            # A deleted citation's position is gone with it: name it by subject and values.
            entries = [values(row, keys=keys) for row in history]
            state["HistoricalCitation"] = sorted(entries, key=lambda entry: json.dumps(entry, sort_keys=True))
        else:
            key = "slug" if model is Source else "external_id"
            entries = {}
            for row in history:
                entries.setdefault(row[key], []).append(values(row, keys=keys))
            state[f"Historical{model.__name__}"] = entries
    return state


def expected_state(step: str) -> dict:
    """The previous writer's database state after a step: "import" (the sample), then "revision"."""
    return json.loads(gzip.decompress(EXPECTED_STATE.read_bytes()))[step]


def state_as_json() -> dict:
    """The database state as the expected state holds it (tuples as lists, and so on)."""
    return json.loads(json.dumps(database_state()))


def test_the_sample_and_a_revision_of_it_give_the_previous_writers_database_state(tmp_path):
    out, _ = run("import_ucdp", UCDP_SAMPLE)
    assert "200 created, 0 updated, 0 unchanged, 0 rejected" in out
    assert state_as_json() == expected_state("import")

    out, _ = run("import_ucdp", write_revised_sample(tmp_path / "revised.csv"))
    assert "0 created, 3 updated, 197 unchanged, 0 rejected" in out
    assert state_as_json() == expected_state("revision")


def test_an_unchanged_file_writes_nothing():
    run("import_ucdp", UCDP_SAMPLE)
    state, history = database_state(), history_counts()
    stamps = {model: dict(model.objects.values_list("pk", "updated_at")) for model in (Event, CasualtyReport, Citation)}

    out, _ = run("import_ucdp", UCDP_SAMPLE)

    assert "0 created, 0 updated, 200 unchanged, 0 rejected" in out
    assert database_state() == state and history_counts() == history
    assert stamps == {model: dict(model.objects.values_list("pk", "updated_at")) for model in stamps}


def test_a_revised_file_updates_its_records_with_history(tmp_path):
    run("import_ucdp", UCDP_SAMPLE)
    history = history_counts()

    out, _ = run("import_ucdp", write_revised_sample(tmp_path / "revised.csv"))

    assert "0 created, 3 updated, 197 unchanged, 0 rejected" in out
    renamed = Event.objects.get(external_id="ucdp-ged:158189")
    assert renamed.place_name.endswith("(district centre)")
    assert [entry.history_type for entry in renamed.history.order_by("history_id")] == ["+", "~"]
    assert renamed.history.latest().history_change_reason == "UCDP GED import of revised.csv"
    total = CasualtyReport.objects.get(external_id="ucdp-ged:300380:total")
    assert [entry.history_type for entry in total.history.order_by("history_id")] == ["+", "~"]
    # 320214's offices dropped: their citations deleted, with history; its description now
    # names UCDP's source_article instead.
    dropped = Event.objects.get(external_id="ucdp-ged:320214")
    assert [c.source.slug for c in dropped.citations.all()] == ["ucdp"]
    assert "Sources as UCDP lists them" in dropped.description
    new_history = {name: count - history[name] for name, count in history_counts().items()}
    # Events: 158189 and 320214. Reports: 300380's total updated, civilians created, side B
    # deleted. Citations: 300380's headline updated and its side B claim deleted, the
    # civilians' claim created, 158189's new office cited, 320214's offices deleted. Sources:
    # the new office.
    dropped_offices = Citation.history.filter(history_type="-", event_id=dropped.pk).count()
    assert dropped_offices > 0
    assert new_history == {"Event": 2, "CasualtyReport": 3, "Citation": 4 + dropped_offices, "Source": 1}


def test_an_import_killed_mid_file_leaves_whole_records_and_a_rerun_completes_it(monkeypatch):
    load = bulk.Database.load
    loads = []

    def fail_in_the_third_batch(self, cursor, table, columns, rows):
        # By the third batch's citations its events and reports are written, and rolled back with it.
        loads.append(table)
        if table == "staging_citation" and loads.count(table) == 3:
            raise Interrupted
        return load(self, cursor, table, columns, rows)

    monkeypatch.setattr(bulk.Database, "load", fail_in_the_third_batch)
    with pytest.raises(Interrupted):
        run("import_ucdp", UCDP_SAMPLE, "--batch-size", 60)
    monkeypatch.undo()

    assert Event.objects.count() == 120  # two whole batches, nothing of the third
    assert Event.history.count() == 120
    for event in Event.objects.prefetch_related("casualty_reports__citations", "citations"):
        assert event.citations.all() and event.casualty_reports.all()
        assert all(report.citations.all() for report in event.casualty_reports.all())
    assert not CasualtyReport.objects.filter(event=None).exists()

    out, _ = run("import_ucdp", UCDP_SAMPLE, "--batch-size", 60)

    assert "80 created, 0 updated, 120 unchanged, 0 rejected" in out
    assert state_as_json() == expected_state("import")
    out, _ = run("import_ucdp", UCDP_SAMPLE, "--batch-size", 60)
    assert "0 created, 0 updated, 200 unchanged, 0 rejected" in out


def test_a_dry_run_reports_what_an_import_would_do_and_writes_nothing(tmp_path):
    run("import_ucdp", UCDP_SAMPLE)
    state = database_state()

    out, _ = run("import_ucdp", write_revised_sample(tmp_path / "revised.csv"), "--dry-run")

    assert out.startswith("Dry run, nothing was saved.") and "0 created, 3 updated, 197 unchanged" in out
    assert database_state() == state


# --- The models' rules, on plain values ---------------------------------------------------

# Bad values of each kind of rule a model field or clean() declares, by model.
BROKEN_RECORDS = [
    (Event, {"type": "battle"}),  # choices
    (Event, {"country": "XX"}),  # choices (a country field)
    (Event, {"title": "x" * 301}),  # max_length
    (Event, {"title": ""}),  # blank
    (Event, {"start_date": None}),  # null
    (Event, {"latitude": 91.0, "longitude": 181.0}),  # value validators
    (Event, {"end_date": datetime.date(2024, 12, 31)}),  # clean(): the interval
    (Event, {"latitude": 10.0}),  # clean(): coordinates together
    (Event, {"personnel_low": 10, "personnel_high": 5}),  # clean(): the range
    (CasualtyReport, {"credibility": 9}),  # choices, value validators
    (CasualtyReport, {"best": -1}),  # the backend's integer range
    (CasualtyReport, {"low": 5, "best": 3}),  # clean(): the range
    (CasualtyReport, {"best": None}),  # clean(): a figure or a unit
    (Citation, {"url": "not a url"}),  # URL validator
    (Citation, {"role": ""}),  # blank, with choices
    (Source, {"slug": "not a slug!"}),  # slug validator
    (Source, {"aliases": "NIS"}),  # clean()
]
VALID = {
    Event: {"title": "Fighting", "type": "combat", "start_date": datetime.date(2025, 1, 1)},
    CasualtyReport: {"category": "killed", "kind": "estimate", "best": 4},
    Citation: {"role": "claimed_by", "url": "https://example.org/a"},
    Source: {"name": "NIS", "slug": "nis", "kind": "intelligence"},
}
VALID[Event]["end_date"] = datetime.date(2025, 1, 2)
FOREIGN_KEYS = {Event: (), CasualtyReport: ("unit", "event"), Citation: ("source", "event", "casualty_report")}
FOREIGN_KEYS[Source] = ()


def full_clean_messages(model, values):
    """What Django's full_clean() says of the values (foreign keys and uniqueness left out, as imports do)."""
    try:
        model(**values).full_clean(exclude=FOREIGN_KEYS[model], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        return error.message_dict
    return {}


@pytest.mark.parametrize(("model", "broken"), BROKEN_RECORDS)
def test_rules_on_plain_values_are_the_models_own(model, broken):
    values = {**VALID[model], **broken}
    rules = rules_of(model, FOREIGN_KEYS[model])

    errors = {name: ValidationError(messages).messages for name, messages in rules.errors(values).items()}

    assert errors, "the broken value is rejected"
    assert errors == full_clean_messages(model, values)
    assert not rules.errors(VALID[model]) and not full_clean_messages(model, VALID[model])


def test_a_row_is_rejected_for_each_kind_of_rule_with_line_column_and_problem(tmp_path):
    call_command("loaddata", "seed", verbosity=0)
    header = read_csv_header_of_export(tmp_path)
    good = {"category": "killed", "kind": "estimate", "best": "5", "country": "KP"}
    broken = [
        ({"category": "slain"}, "category", "Value 'slain' is not a valid choice."),
        ({"country": "XX"}, "country", "Value 'XX' is not a valid choice."),
        ({"credibility": "9"}, "credibility", "Value 9 is not a valid choice."),
        ({"date_text": "x" * 201}, "date_text", "Ensure this value has at most 200 characters (it has 201)."),
        ({"low": "9"}, "low", "The figure low (9) is greater than its best (5)."),
        ({"best": ""}, "best", "Give a low, best or high figure, or a unit"),
        ({"as_of_date": "2025-01-01", "period_start": "2025-02-01"}, "period_start", "The period cannot start"),
        ({"citation1_source": "nis", "citation1_role": "claimed_by", "citation1_url": "nope"}, "citation1_url",
         "Enter a valid URL."),
        ({"citation1_source": "nis", "citation1_role": "said"}, "citation1_role", "Value 'said' is not a valid"),
        ({"citation1_source": "a b", "citation1_role": "claimed_by"}, "citation1_source", "Enter a valid “slug”"),
    ]  # fmt: skip
    rows = [{"report_id": "desk:good", **good}]
    rows += [{"report_id": f"desk:bad-{n}", **good, **cells} for n, (cells, _, _) in enumerate(broken)]
    path = tmp_path / "rules.csv"
    write_csv(path, header, rows)
    lines = [line for line, _ in read_csv(path)[1]]
    counts = database_counts()

    out, err = run("import_csv", path)

    assert f"1 created, 0 updated, 0 unchanged, {len(broken)} rejected" in out
    for line, (_, column, problem) in zip(lines[1:], broken, strict=True):
        assert f"rejected line {line}, column {column}: {problem}" in err
    assert database_counts() == {**counts, "reports": counts["reports"] + 1}


# --- The benchmark ------------------------------------------------------------------------


def scratch_databases(tmp_path) -> list[str]:
    """bench/imports.py options for a scratch database of this test run's backend."""
    if connection.vendor != "postgresql":
        return ["--backends", "sqlite", "--sqlite", str(tmp_path / "imports.sqlite3")]
    server = {"HOST": "127.0.0.1", "PORT": 5432, "USER": "postgres"}
    server.update((key, value) for key, value in connection.settings_dict.items() if key in server and value)
    return ["--backends", "pg", "--pg-url", "postgres://{USER}@{HOST}:{PORT}/osint_import_bench_test".format(**server)]


def test_the_import_benchmark_runs_on_this_backend(tmp_path):
    """bench/imports.py on a few hundred rows per layout, on this test run's backend, in a scratch database."""
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, str(root / "bench" / "imports.py"), "--smoke", "--rows", "300", "--out", str(tmp_path)]
    command += scratch_databases(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (report,) = tmp_path.glob("imports-*.md")
    table = report.read_text()
    database = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
    for layout in ("ucdp", "acled", "claims"):
        assert f"| {layout} | {database} | new | 300 | 300 | 0 | 0 | 0 |" in table
        assert f"| {layout} | {database} | unchanged | 300 | 0 | 0 | 300 | 0 |" in table
    assert "runs met their target." in table and " MB |" in table
