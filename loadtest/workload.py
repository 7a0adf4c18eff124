"""What the load clients send: the read mix and the write payloads, whatever the HTTP client.

Every write carries a unique marker ``[lt:<run>:<client>:<n>]`` in its description, and comes
with the values the record must have once the write is acknowledged (``expect``), in the terms
of verify_writes.py.
"""

from __future__ import annotations

import datetime
import itertools
import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

# Filters of the event list, as clients use them (the README's tour, and a few more).
EVENT_FILTERS = [
    {"date_from": "2025-01-01", "date_to": "2025-01-31"},
    {"type": "combat"},
    {"type__in": "deployment,combat"},
    {"bbox": "34,50,39,53"},
    {"source": 1, "citation_role": "confirmed_by"},
    {"min_reliability": "B"},
    {"country": "RU", "ordering": "-start_date"},
    {"unit": 1},
    {"expected": "false", "limit": 20},
    {"status": "confirmed"},
    {"known_at": "2025-01-10"},
    {"has_coordinates": "true", "ordering": "start_date"},
    {},
]
REPORT_ORDERINGS = ["-best", "as_of_date", "-as_of_date", None]
SEARCH_TERMS = ["ramstein", "kursk", "north korean", "casualties", "zelensky", "load test", "nis"]
EVENT_TYPES = ["combat", "strike", "deployment", "statement", "capture"]
CATEGORIES = ["killed", "wounded", "captured", "missing", "casualties"]
KINDS = ["count", "estimate", "projection"]
CITATION_ROLES = ["claimed_by", "reported_by", "confirmed_by"]


@dataclass
class Catalogue:
    """Ids to read and to refer to: the seed data's, plus what this run created."""

    sources: list[int]
    units: list[int]
    events: list[int]
    reports: list[int]
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def fetch(cls, get_json) -> Catalogue:
        """``get_json(path)`` returns the decoded body of a GET."""

        def ids(path):
            return [row["id"] for row in get_json(f"{path}?limit=1000")["results"]]

        catalogue = cls(
            sources=ids("/api/sources/"),
            units=ids("/api/units/"),
            events=ids("/api/events/"),
            reports=ids("/api/casualty-reports/"),
        )
        if not (catalogue.sources and catalogue.units and catalogue.events and catalogue.reports):
            raise RuntimeError("The service has no seed data: load it with `manage.py loaddata seed`.")
        return catalogue

    def add(self, resource: str, pk: int) -> None:
        with self.lock:
            (self.events if resource == "events" else self.reports).append(pk)


class Journal:
    """Every write a client sent, as JSON lines, flushed at once so a crash loses nothing."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 (closed in close())
        self._lock = threading.Lock()

    def record(self, **entry) -> None:
        entry.setdefault("t", time.time())
        with self._lock:
            self._file.write(json.dumps(entry) + "\n")

    def close(self) -> None:
        self._file.close()


# --- Reads ----------------------------------------------------------------------------------


def event_list(rng: random.Random) -> tuple[str, str]:
    params = rng.choice(EVENT_FILTERS)
    return "GET /api/events/?<filters>", "/api/events/" + (f"?{urlencode(params)}" if params else "")


def event_detail(rng: random.Random, catalogue: Catalogue) -> tuple[str, str]:
    return "GET /api/events/<id>/", f"/api/events/{rng.choice(catalogue.events)}/"


def report_list_by_unit(rng: random.Random, catalogue: Catalogue) -> tuple[str, str]:
    params = {"unit": rng.choice(catalogue.units)}
    ordering = rng.choice(REPORT_ORDERINGS)
    if ordering:
        params["ordering"] = ordering
    if rng.random() < 0.3:
        params["best__gte"] = 1000
    return "GET /api/casualty-reports/?unit=", f"/api/casualty-reports/?{urlencode(params)}"


def report_detail(rng: random.Random, catalogue: Catalogue) -> tuple[str, str]:
    return "GET /api/casualty-reports/<id>/", f"/api/casualty-reports/{rng.choice(catalogue.reports)}/"


def search(rng: random.Random) -> tuple[str, str]:
    resource = rng.choice(["events", "casualty-reports"])
    return f"GET /api/{resource}/?q=", f"/api/{resource}/?{urlencode({'q': rng.choice(SEARCH_TERMS)})}"


def source_list(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.3:
        return "GET /api/sources/", "/api/sources/?min_reliability=B"
    return "GET /api/sources/", "/api/sources/"


# --- Writes ---------------------------------------------------------------------------------


_attempts = itertools.count(1)


def description(marker: str, revision: int = 0) -> str:
    """Unique for every write sent, so that history tells which attempt was stored."""
    text = f"Load test write [{marker}]"
    return text if not revision else f"{text} rev {revision} try {next(_attempts)}"


def new_report(rng: random.Random, catalogue: Catalogue, marker: str) -> tuple[dict, dict]:
    low = rng.randint(0, 5000)
    best = low + rng.randint(0, 2000)
    high = best + rng.randint(0, 2000)
    as_of = datetime.date(2024, 10, 1) + datetime.timedelta(days=rng.randint(0, 200))
    citation = {"source": rng.choice(catalogue.sources), "role": "claimed_by", "quote": f"figure {best} {marker}"}
    payload = {
        "country": "KP",
        "unit": rng.choice(catalogue.units),
        "category": rng.choice(CATEGORIES),
        "low": low,
        "best": best,
        "high": high,
        "kind": rng.choice(KINDS),
        "as_of_date": as_of.isoformat(),
        "credibility": rng.randint(1, 6),
        "description": description(marker),
        "citations": [citation],
    }
    expect = {**payload, "event": None, "citations": [dict(citation)]}
    return payload, expect


@dataclass
class OwnReport:
    """A casualty report this client created: only this client changes it, so If-Match never races."""

    id: int
    marker: str
    etag: str
    low: int
    high: int
    citation_id: int
    citations: list[dict]
    revision: int = 0


def own_report(response_body: dict, etag: str, marker: str) -> OwnReport:
    return OwnReport(
        id=response_body["id"],
        marker=marker,
        etag=etag,
        low=response_body["low"],
        high=response_body["high"],
        citation_id=response_body["citations"][0]["id"],
        citations=[
            {"source": c["source"]["id"], "role": c["role"], "quote": c["quote"]} for c in response_body["citations"]
        ],
    )


def report_patch(rng: random.Random, catalogue: Catalogue, report: OwnReport) -> tuple[dict, dict]:
    """A partial update; one in three also replaces the citations (updating one, adding one)."""
    revision = report.revision + 1
    payload = {
        "best": rng.randint(report.low, report.high),
        "credibility": rng.randint(1, 6),
        "description": description(report.marker, revision),
    }
    expect = dict(payload)
    if rng.random() < 1 / 3:
        kept = {
            "id": report.citation_id,
            "source": report.citations[0]["source"],
            "role": "claimed_by",
            "quote": f"revised {revision} {report.marker}",
        }
        added = {"source": rng.choice(catalogue.sources), "role": rng.choice(CITATION_ROLES), "quote": "added"}
        payload["citations"] = [kept, added]
        expect["citations"] = [{k: v for k, v in kept.items() if k != "id"}, added]
    return payload, expect


def apply_patch(report: OwnReport, response_body: dict, etag: str, expect: dict) -> None:
    report.revision += 1
    report.etag = etag
    if "citations" in expect:
        report.citations = expect["citations"]
        report.citation_id = response_body["citations"][0]["id"]


def new_event(rng: random.Random, catalogue: Catalogue, marker: str) -> tuple[dict, dict]:
    start = datetime.date(2024, 10, 1) + datetime.timedelta(days=rng.randint(0, 200))
    end = start + datetime.timedelta(days=rng.randint(0, 5))
    units = [{"unit": rng.choice(catalogue.units), "role": "participant"}]
    citations = [{"source": rng.choice(catalogue.sources), "role": "reported_by", "quote": f"event {marker}"}]
    payload = {
        "title": f"Load test event {marker}",
        "description": description(marker),
        "type": rng.choice(EVENT_TYPES),
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "country": "RU",
        "admin1": "Kursk Oblast",
        "latitude": round(rng.uniform(50.9, 52.4), 5),
        "longitude": round(rng.uniform(34.2, 38.4), 5),
        "location_precision": "near",
        "units": units,
        "citations": citations,
    }
    expect = {k: v for k, v in payload.items() if k != "location_precision"}
    return payload, expect
