"""Django-side helpers of the benchmark, run against the database in DATABASE_URL.

python bench/probe.py params --seed 1           # JSON: the parameters the scenarios draw from
python bench/probe.py queries urls.json plans.txt
    # for each scenario's first URL: the number of SQL queries the API runs (through the Django
    # test client, in process; logged in as the benchmark's superuser where the spec says
    # "login") and, for the hot scenarios, EXPLAIN (ANALYZE, BUFFERS) of each query (EXPLAIN
    # QUERY PLAN on SQLite); JSON summary on stdout, the full plans in plans.txt
python bench/probe.py admin-session
    # JSON: {"username", "cookie"}, the Cookie header of a new session of the superuser "bench"
    # (created if missing). Run it with the server's settings: the session is signed with
    # DJANGO_SECRET_KEY and stored in the database through SESSION_ENGINE.
"""

import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osint.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from events.models import CasualtyReport, Citation, Event, Source, Unit  # noqa: E402

# Words of the generated texts by how often they occur (events/management/commands/generate_data.py).
SEARCH_WORDS = {
    "common": ["drone", "artillery", "village"],
    "medium": ["convoy", "checkpoint", "bridge"],
    "rare": ["ramstein", "kursk", "wagner"],
}
CSV_ROWS = 100_000
ADMIN_USERNAME = "bench"


def params(seed, csv_rows=CSV_ROWS):
    """What the scenarios need, drawn reproducibly from the data."""
    rng = random.Random(seed)
    events = Event.objects.count()
    reports = CasualtyReport.objects.count()
    max_event = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    # Units with a subtree of a useful size: corps, divisions and brigades.
    unit_ids = sorted(Unit.objects.filter(echelon__in=["corps", "division", "brigade"]).values_list("pk", flat=True))
    if not unit_ids:
        unit_ids = sorted(Unit.objects.values_list("pk", flat=True))
    units = rng.sample(unit_ids, min(30, len(unit_ids)))
    # Date windows (one month) in the busy years, in the busiest countries.
    windows = []
    for _ in range(40):
        year, month = rng.choice([2022, 2023, 2024, 2025]), rng.randint(1, 12)
        last = [31, 29 if year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        windows.append(
            (rng.choice(["UA", "UA", "RU", "SY", "SD"]), f"{year}-{month:02d}-01", f"{year}-{month:02d}-{last}")
        )
    # The coordinates of random events.
    located = list(
        Event.objects.filter(latitude__isnull=False, pk__in=[rng.randint(1, max_event) for _ in range(400)])
        .order_by("pk")
        .values_list("longitude", "latitude")[:40]
    )
    # Boxes of 2 x 2 and 20 x 20 degrees around them, and their places as centres of 50 km circles.
    boxes = boxes_around(located, 1) or [(30.0, 46.0, 36.0, 50.0)]
    large_boxes = boxes_around(located, 10) or [(20.0, 38.0, 40.0, 58.0)]
    points = [(round(lon, 4), round(lat, 4)) for lon, lat in located] or [(33.0, 48.0)]
    detail_ids = [rng.randint(1, max_event) for _ in range(200)] if max_event else [1]
    # Consensus: a country's losses of one category, in the busiest countries.
    categories = ["killed", "wounded", "casualties", "captured", "missing", "unspecified"]
    consensus = [(rng.choice(["UA", "UA", "RU", "SY", "SD"]), rng.choice(categories)) for _ in range(20)]
    deep = min(500_000, events // 2)
    deep -= deep % 100
    offsets = [max(deep + 100 * k, 0) for k in range(20)]
    deep_id = Event.objects.order_by("pk").values_list("pk", flat=True)[deep : deep + 1].first()
    deep_date = (
        Event.objects.order_by("-start_date", "-pk").values_list("start_date", flat=True)[deep : deep + 1].first()
    )
    # The CSV export: the newest CSV_ROWS events (fewer on a small database), by start date.
    csv_rows = min(csv_rows, max(events // 2, 1))
    csv_from = (
        Event.objects.order_by("-start_date", "-pk")
        .values_list("start_date", flat=True)[csv_rows - 1 : csv_rows]
        .first()
    )
    csv_expected = Event.objects.filter(start_date__gte=csv_from).count() if csv_from else 0
    # The admin's change pages: the first detail ids, and as many rows of the other models.
    admin_ids = {"event": detail_ids[:4]}
    for name, model in (("casualtyreport", CasualtyReport), ("source", Source), ("unit", Unit), ("citation", Citation)):
        admin_ids[name] = existing_ids(model, rng, 4)
    return {
        "events": events,
        "reports": reports,
        "units": units,
        "windows": windows,
        "consensus": consensus,
        "boxes": boxes,
        "large_boxes": large_boxes,
        "points": points,
        "detail_ids": detail_ids,
        "offsets": offsets,
        "search_words": SEARCH_WORDS,
        "deep_date": deep_date.isoformat() if deep_date else None,
        "deep_id": deep_id,
        "csv_from": csv_from.isoformat() if csv_from else "2014-01-01",
        "csv_expected_rows": csv_expected,
        "admin_ids": admin_ids,
    }


def existing_ids(model, rng, count):
    """Up to ``count`` ids of rows of ``model``, drawn at random below its largest id."""
    top = model.objects.order_by("-pk").values_list("pk", flat=True).first()
    if not top:
        return []
    drawn = [rng.randint(1, top) for _ in range(4 * count)]
    present = set(model.objects.filter(pk__in=drawn).values_list("pk", flat=True))
    return list(dict.fromkeys(pk for pk in drawn if pk in present))[:count]


def superuser():
    """The benchmark's superuser (``ADMIN_USERNAME``, no usable password), created if missing."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    flags = {"is_staff": True, "is_superuser": True, "is_active": True}
    user, created = get_user_model().objects.get_or_create(
        username=ADMIN_USERNAME, defaults={**flags, "password": make_password(None)}
    )
    if not created and not all(getattr(user, name) for name in flags):
        for name, value in flags.items():
            setattr(user, name, value)
        user.save(update_fields=list(flags))
    return user


def admin_session():
    """A new logged-in session of the superuser, made by Django's own login (``force_login``:
    the session engine, the auth keys and the user's session hash), as its Cookie header."""
    from django.conf import settings

    client = Client()
    client.force_login(superuser())
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    print(json.dumps({"username": ADMIN_USERNAME, "cookie": f"{cookie.key}={cookie.value}"}))


KEY_WORDS = ("Seq Scan", "Index", "Sort", "Rows Removed", "Bitmap", "Nested Loop", "Hash", "SubPlan",
             "Execution Time", "Planning Time", "Limit", "Aggregate", "Merge", "Materialize", "SCAN", "SEARCH",
             "USE TEMP", "CORRELATED")  # fmt: skip


def explain(sql):
    """The plan of one captured query, as a list of lines."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET statement_timeout = '120s'")
            try:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                return [row[0] for row in cursor.fetchall()]
            except Exception as error:  # a plan that times out is itself a finding
                return [f"EXPLAIN failed: {error}"]
            finally:
                cursor.execute("RESET statement_timeout")
        started = time.perf_counter()
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        lines = [f"{'  ' * 0}{row[-1]}" for row in cursor.fetchall()]
        cursor.execute(sql)
        cursor.fetchall()
        return [*lines, f"Execution Time: {(time.perf_counter() - started) * 1000:.1f} ms (SQLite, run once)"]


def key_lines(plan, limit=14):
    first = plan[:1]
    rest = [line for line in plan[1:] if any(word in line for word in KEY_WORDS)]
    return first + rest[:limit]


def queries(urls_file, plans_file):
    scenarios = json.loads(Path(urls_file).read_text())
    anonymous, logged_in = Client(), None
    summary = {}
    with open(plans_file, "w") as out:
        out.write(f"# Query plans on {connection.vendor} ({connection.settings_dict['NAME']})\n")
        for key, spec in scenarios.items():
            url = spec["url"]
            client = anonymous
            if spec.get("login"):
                if logged_in is None:
                    logged_in = Client()
                    logged_in.force_login(superuser())
                client = logged_in
            # Warm the caches once, then capture.
            client.get(url)
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                if hasattr(response, "streaming_content"):
                    for _ in response.streaming_content:
                        pass
                elapsed = (time.perf_counter() - started) * 1000
            entry = {"url": url, "status": response.status_code, "queries": len(captured), "ms_in_process": elapsed}
            if spec.get("explain"):
                entry["plans"] = []
                out.write(f"\n\n## {key}: {url}\n{len(captured)} queries, {elapsed:.0f} ms in process\n")
                for number, query in enumerate(captured.captured_queries, 1):
                    sql = query["sql"]
                    if not sql.lstrip().upper().startswith("SELECT"):
                        continue
                    plan = explain(sql)
                    out.write(f"\n### query {number} ({query['time']} s)\n{sql}\n\n" + "\n".join(plan) + "\n")
                    entry["plans"].append({"sql": sql[:300], "key_lines": key_lines(plan)})
            summary[key] = entry
    print(json.dumps(summary))


def boxes_around(places, half):
    """Boxes of ``2 * half`` degrees a side around the (lon, lat) places, cut to the world."""
    return [
        (
            round(max(lon - half, -180), 2),
            round(max(lat - half, -90), 2),
            round(min(lon + half, 180), 2),
            round(min(lat + half, 90), 2),
        )
        for lon, lat in places
    ]


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "params":
        seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
        csv_rows = int(sys.argv[sys.argv.index("--csv-rows") + 1]) if "--csv-rows" in sys.argv else CSV_ROWS
        print(json.dumps(params(seed, csv_rows)))
    elif command == "queries":
        queries(sys.argv[2], sys.argv[3])
    elif command == "admin-session":
        admin_session()
    else:
        sys.exit(__doc__)
