"""Checks a write journal against the database named by DATABASE_URL.

    DATABASE_URL=postgres://... .venv/bin/python loadtest/verify_writes.py JOURNAL --run-id RUN

The journal (JSON lines, written by the load clients) lists every write a client sent:
``{"op": "create" | "patch", "resource": "casualty-reports" | "events", "id": ..., "marker": ...,
"expect": {...}, "acked": true | false, "status": ...}``. Acknowledged writes (201/200) are folded
in order per record into the values it must have now; each is compared with the stored row.

Prints one JSON line: counts, and the lists ``missing`` (acknowledged, not stored),
``mismatched`` (stored with other values), ``phantoms`` (stored with this run's marker but never
acknowledged) and ``unacked_committed`` (answered with an error, yet stored: the client was told
it failed). Exit status 0 when nothing is missing or mismatched.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osint.settings")

import django  # noqa: E402

django.setup()

from events.models import CasualtyReport, Event  # noqa: E402

MODELS = {"casualty-reports": CasualtyReport, "events": Event}


def stored(resource, obj):
    """The stored row in the journal's terms."""
    citations = [{"source": c.source_id, "role": c.role, "quote": c.quote} for c in obj.citations.all().order_by("pk")]
    if resource == "casualty-reports":
        return {
            "country": obj.country.code if obj.country else "",
            "unit": obj.unit_id,
            "event": obj.event_id,
            "category": obj.category,
            "low": obj.low,
            "best": obj.best,
            "high": obj.high,
            "kind": obj.kind,
            "as_of_date": obj.as_of_date.isoformat() if obj.as_of_date else None,
            "credibility": obj.credibility,
            "description": obj.description,
            "citations": citations,
        }
    return {
        "title": obj.title,
        "description": obj.description,
        "type": obj.type,
        "start_date": obj.start_date.isoformat(),
        "end_date": obj.end_date.isoformat(),
        "country": obj.country.code if obj.country else "",
        "admin1": obj.admin1,
        "latitude": obj.latitude,
        "longitude": obj.longitude,
        "units": [{"unit": u.unit_id, "role": u.role} for u in obj.event_units.all().order_by("pk")],
        "citations": citations,
    }


def same(expected, actual):
    if isinstance(expected, float) or isinstance(actual, float):
        return expected is not None and actual is not None and abs(expected - actual) < 1e-9
    return expected == actual


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("journal", type=Path)
    parser.add_argument("--run-id", required=True, help="Marker prefix of this run's writes.")
    args = parser.parse_args()

    entries = [json.loads(line) for line in args.journal.read_text().splitlines() if line.strip()]
    expected, created_markers = {}, set()
    acked_creates = acked_patches = 0
    unacked = []
    for entry in entries:
        if not entry.get("acked"):
            unacked.append(entry)
            continue
        key = (entry["resource"], entry["id"])
        if entry["op"] == "create":
            acked_creates += 1
            created_markers.add(entry["marker"])
            if key in expected:
                expected[key]["duplicate_id"] = True
            expected[key] = dict(entry["expect"])
        else:
            acked_patches += 1
            expected.setdefault(key, {}).update(entry["expect"])

    missing, mismatched = [], []
    for (resource, pk), values in sorted(expected.items()):
        obj = MODELS[resource].objects.filter(pk=pk).first()
        if obj is None:
            missing.append({"resource": resource, "id": pk})
            continue
        actual = stored(resource, obj)
        diff = {
            name: {"expected": value, "stored": actual.get(name)}
            for name, value in values.items()
            if not same(value, actual.get(name))
        }
        if diff:
            mismatched.append({"resource": resource, "id": pk, "differences": diff})

    prefix = f"lt:{args.run_id}:"
    phantoms = []
    for resource, model in MODELS.items():
        for pk, description in model.objects.filter(description__contains=prefix).values_list("pk", "description"):
            marker = description.split("[", 1)[-1].split("]", 1)[0]
            if marker not in created_markers:
                phantoms.append({"resource": resource, "id": pk, "marker": marker})

    # A write answered with an error must not have happened. History keeps every version, so a
    # write that was committed and later overwritten is still found.
    unacked_committed, unacked_absent = [], 0
    for entry in unacked:
        model = MODELS[entry["resource"]]
        text = entry["expect"].get("description")
        if text is None:
            continue
        versions = model.history.filter(description=text)
        if entry.get("id") is not None:
            versions = versions.filter(id=entry["id"])
        found = list(versions.values_list("id", "history_date", "history_type")[:1])
        if found:
            pk, when, kind = found[0]
            unacked_committed.append(
                {
                    "op": entry["op"],
                    "resource": entry["resource"],
                    "id": pk,
                    "status": entry.get("status"),
                    "error": entry.get("error", ""),
                    "sent_at": entry.get("t"),
                    "committed_at": when.isoformat(),
                    "history_type": kind,
                }
            )
        else:
            unacked_absent += 1

    report = {
        "journal_entries": len(entries),
        "acked_creates": acked_creates,
        "acked_patches": acked_patches,
        "records_checked": len(expected),
        "missing": missing,
        "mismatched": mismatched,
        "phantoms": phantoms,
        "unacked": len(unacked),
        "unacked_absent": unacked_absent,
        "unacked_committed": unacked_committed,
        "ok": not missing and not mismatched,
    }
    print(json.dumps(report, default=str))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
