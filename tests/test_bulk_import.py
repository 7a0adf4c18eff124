"""The set-based import path, checked against the database state of the writer it replaced.

``tests/data/ucdp_ged_v23_1_sample200.expected.json.gz`` holds what the previous writer (model
instances through ``bulk_create_with_history`` / ``bulk_update_with_history``, commit ea48ffd)
left in the database after importing the real UCDP sample, and after then importing a revised
copy of it (:func:`revise`): every event, report, citation and source, and every history entry,
keyed by external ids and slugs rather than by database ids. The bulk path must reproduce it.
"""

import gzip
import json
from pathlib import Path

import pytest

from events.models import CasualtyReport, Citation, Event, Source

from .test_importers import UCDP_SAMPLE, read_csv, run, write_csv

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


def test_the_sample_and_a_revision_of_it_give_the_previous_writers_database_state(tmp_path):
    expected = json.loads(gzip.decompress(EXPECTED_STATE.read_bytes()))

    out, _ = run("import_ucdp", UCDP_SAMPLE)
    assert "200 created, 0 updated, 0 unchanged, 0 rejected" in out
    assert json.loads(json.dumps(database_state())) == expected["import"]

    out, _ = run("import_ucdp", write_revised_sample(tmp_path / "revised.csv"))
    assert "0 created, 3 updated, 197 unchanged, 0 rejected" in out
    assert json.loads(json.dumps(database_state())) == expected["revision"]
