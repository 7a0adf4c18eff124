"""Import speed: UCDP GED, ACLED, claims-CSV, Oryx and unit-positions files of any size, into PostgreSQL and SQLite.

    .venv/bin/python bench/imports.py --rows 400000      # a 400,000-row file per layout
    .venv/bin/python bench/imports.py --smoke            # 3,000 rows, a minute or so
    .venv/bin/python bench/imports.py --layouts ucdp --backends pg --rows 100000
    .venv/bin/python bench/imports.py --generate-only --rows 1000000   # just write the files

1. Files: a generator writes one CSV per layout into ``bench/data/imports/``, with the header
   each importer expects and realistic values: UCDP and ACLED rows are drawn from the real
   sample (``tests/data``) with new ids, dates, places and figures; claims rows are reports
   of events that one to three rows share, with citations of a pool of sources; Oryx rows are
   items of a few dozen real system names with every status; positions rows are daily
   positions of 360 units (battalions under brigades under armies). The same ``--seed`` and
   ``--rows`` give the same bytes.
2. Databases: the PostgreSQL database ``osint_import_bench`` (``--pg-url``) and the SQLite file
   ``bench/data/imports.sqlite3`` are dropped, created and migrated.
3. Each layout is imported twice per database with its management command, in a process of its
   own: new rows, then the same file again (every row unchanged). Each run reports rows/s
   (the importer's own summary: reading, checking and writing, not Python's start-up) and
   the import process's peak RSS (``VmHWM``).
4. A markdown table goes to ``bench/results/imports-<time>.md`` and is printed, with the targets
   checked: 20,000 rows/s new on PostgreSQL, 5,000 on SQLite, 50,000 unchanged.
"""

import argparse
import csv
import datetime
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"
SAMPLES = ROOT / "tests" / "data"
COMMANDS = {
    "ucdp": "import_ucdp",
    "acled": "import_acled",
    "claims": "import_csv",
    "oryx": "import_oryx",
    "positions": "import_positions",
}
# rows/s the issue asks for: new rows per backend, and re-importing an unchanged file.
TARGETS = {("new", "pg"): 20_000, ("new", "sqlite"): 5_000, ("unchanged", "pg"): 50_000}
TARGETS[("unchanged", "sqlite")] = 50_000
BACKEND_NAMES = {"pg": "PostgreSQL", "sqlite": "SQLite"}


# --- Files --------------------------------------------------------------------------------


def sample(name: str) -> tuple[list[str], list[dict]]:
    with open(SAMPLES / name, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames), list(reader)


def some_date(rng: random.Random, first: int, last: int) -> datetime.date:
    start = datetime.date(first, 1, 1)
    return start + datetime.timedelta(days=rng.randrange((datetime.date(last, 12, 31) - start).days))


def deaths(rng: random.Random) -> int:
    """Mostly none or a few, now and then dozens."""
    return min(int(rng.expovariate(0.4)), 300) if rng.random() < 0.6 else 0


def from_sample(name: str, revise):
    """Rows drawn from a real sample file, each revised by ``revise(rng, row, number)``."""

    def rows_of(rng: random.Random, rows: int):
        header, templates = sample(name)
        yield header
        for number in range(rows):
            row = dict(rng.choice(templates))
            revise(rng, row, number)
            yield [row[column] for column in header]

    return rows_of


def revise_ucdp(rng: random.Random, row: dict, number: int) -> None:
    start = some_date(rng, 1989, 2022)
    length = {"1": 0, "2": rng.randrange(1, 6), "3": 6}.get(row["date_prec"], 0)
    parties = [deaths(rng) for _ in range(4)]
    best = sum(parties)
    row.update(
        id=str(10_000_000 + number),
        relid=f"{row['relid'].rsplit('-', 1)[0]}-{number}",
        year=str(start.year),
        date_start=f"{start.isoformat()} 00:00:00.000",
        date_end=f"{(start + datetime.timedelta(days=length)).isoformat()} 00:00:00.000",
        deaths_a=str(parties[0]),
        deaths_b=str(parties[1]),
        deaths_civilians=str(parties[2]),
        deaths_unknown=str(parties[3]),
        best=str(best),
        low=str(max(0, best - rng.randrange(3))),
        high=str(best + rng.randrange(5)),
        latitude=f"{float(row['latitude'] or 0) + rng.uniform(-0.5, 0.5):.6f}",
        longitude=f"{float(row['longitude'] or 0) + rng.uniform(-0.5, 0.5):.6f}",
        source_date=";".join(start.isoformat() for date in row["source_date"].split(";") if date),
    )


ACLED_SOURCES = [
    "Ukrainska Pravda",
    "Suspilne",
    "Ministry of Defence of Ukraine",
    "Radio Free Europe/Radio Liberty",
    "Sudan Tribune",
    "Radio Dabanga",
    "Myanmar Now",
    "The Irrawaddy",
    "Reuters",
    "Agence France-Presse",
    "Syrian Observatory for Human Rights",
    "Twitter",
]


def revise_acled(rng: random.Random, row: dict, number: int) -> None:
    date = some_date(rng, 2018, 2024)
    fatalities = deaths(rng)
    location = row["location"]
    row.update(
        event_id_cnty=f"{row['event_id_cnty'][:3]}{number}",
        event_date=date.isoformat(),
        year=str(date.year),
        time_precision=rng.choice("1112"),
        latitude=f"{float(row['latitude']) + rng.uniform(-0.5, 0.5):.4f}",
        longitude=f"{float(row['longitude']) + rng.uniform(-0.5, 0.5):.4f}",
        source="; ".join(rng.sample(ACLED_SOURCES, rng.randint(1, 3))),
        fatalities=str(fatalities),
        notes=f"On {date:%d %B %Y}, {row['actor1'] or 'unidentified actors'} near {location}. "
        f"{fatalities or 'No'} fatalities were reported.",
        timestamp=str(int(time.mktime(date.timetuple()))),
    )


CLAIMS_SOURCES = [
    ("nis", "National Intelligence Service of South Korea", "intelligence", "B", "KR"),
    ("isw", "Institute for the Study of War", "think_tank", "B", "US"),
    ("uk-mod", "UK Ministry of Defence", "government", "B", "GB"),
    ("kyiv-independent", "The Kyiv Independent", "media", "C", "UA"),
    ("tass", "TASS", "media", "D", "RU"),
    ("gur", "Defence Intelligence of Ukraine", "intelligence", "C", "UA"),
    ("reuters", "Reuters", "media", "B", "GB"),
    ("mediazona", "Mediazona", "media", "B", "RU"),
]
CLAIMS_PLACES = [
    ("Kursk Oblast", "RU", 51.7, 35.3),
    ("Donetsk Oblast", "UA", 48.0, 37.8),
    ("Zaporizhzhia Oblast", "UA", 47.5, 35.6),
    ("Kharkiv Oblast", "UA", 49.9, 36.6),
    ("Belgorod Oblast", "RU", 50.6, 36.6),
]


def claims_rows(rng: random.Random, rows: int):
    from events.importers.claims_csv import CITATION_COLUMNS, HEADER

    header = HEADER + [f"citation{n}_{column}" for n in (1, 2) for column in CITATION_COLUMNS]
    header += [f"event_citation1_{column}" for column in CITATION_COLUMNS]
    yield header
    event, left = 0, 0
    for number in range(rows):
        if left == 0:  # a new event, shared by the next one to three rows
            event, left = event + 1, rng.randint(1, 3)
            start = some_date(rng, 2022, 2025)
            place, country, latitude, longitude = rng.choice(CLAIMS_PLACES)
            event_cells = {
                "event_id": f"bench:event:{event}",
                "event_title": f"Fighting in {place}",
                "event_type": rng.choice(["combat", "strike", "deployment", "capture"]),
                "event_start_date": start.isoformat(),
                "event_end_date": (start + datetime.timedelta(days=rng.randrange(8))).isoformat(),
                "event_date_precision": rng.choice(["day", "week", "month"]),
                "event_expected": "false",
                "event_place_name": place,
                "event_admin1": place,
                "event_country": country,
                "event_latitude": f"{latitude + rng.uniform(-0.5, 0.5):.5f}",
                "event_longitude": f"{longitude + rng.uniform(-0.5, 0.5):.5f}",
                "event_location_precision": "admin1",
                "event_description": f"Clashes reported in {place} around {start:%d %B %Y}.",
            }
            event_cells |= citation_cells(rng, "event_citation1_", start, "reported_by")
        left -= 1
        low = rng.randrange(10, 2000)
        high = low + rng.randrange(0, 500)
        as_of = datetime.date.fromisoformat(event_cells["event_end_date"]) + datetime.timedelta(days=rng.randrange(30))
        cells = {
            **event_cells,
            "report_id": f"bench:report:{number}",
            "country": rng.choice(["RU", "UA", "KP"]),
            "category": rng.choice(["killed", "wounded", "casualties", "captured", "missing"]),
            "kind": rng.choice(["count", "estimate", "estimate", "projection"]),
            "low": str(low),
            "best": str((low + high) // 2) if rng.random() < 0.5 else "",
            "high": str(high) if rng.random() < 0.7 else "",
            "as_of_date": as_of.isoformat(),
            "date_precision": "day",
            "credibility": str(rng.randint(1, 6)),
            "description": f"{low:,} or more, as of {as_of:%d %B %Y}.",
        }
        cells |= citation_cells(rng, "citation1_", as_of, "claimed_by")
        if rng.random() < 0.5:
            cells |= citation_cells(rng, "citation2_", as_of, "reported_by")
        yield [cells.get(column, "") for column in header]


def citation_cells(rng: random.Random, prefix: str, date: datetime.date, role: str) -> dict:
    slug, name, kind, reliability, country = rng.choice(CLAIMS_SOURCES)
    values = {"source": slug, "source_name": name, "source_kind": kind, "source_reliability": reliability}
    values |= {"source_country": country, "role": role, "published_date": date.isoformat()}
    values |= {"url": f"https://example.org/{slug}/{date.isoformat()}/{rng.randrange(10**6)}"}
    values |= {"title": f"{name} on the fighting, {date:%d %B %Y}"}
    return {prefix + column: value for column, value in values.items()}


# Systems as Oryx names them (with its running count in front, now and then), by whose they were.
ORYX_SYSTEMS = {
    "Russia": ["T-72B3 obr. 2016", "T-80BV", "BMP-2(K)", "BMP-3", "MT-LB", "BTR-82A", "2S19 Msta-S",
               "BM-21 Grad", "9K37 Buk-M1", "KamAZ 6x6", "Ural-4320", "Orlan-10", "Ka-52", "Su-34"],
    "Ukraine": ["T-64BV", "M2A2 Bradley ODS-SA", "M113A1", "Leopard 2A6", "M777", "BM-21 Grad",
                "HMMWV", "Bayraktar TB2", "Mi-8", "MiG-29"],
}  # fmt: skip
ORYX_FIRST_DAY, ORYX_DAYS = datetime.date(2022, 3, 19), 1219  # the scrape's days, to 2025-07-19
ORYX_ORIGINS = {"Russia": ["Russia", "Soviet Union"], "Ukraine": ["Soviet Union", "United States", "Germany"]}


def oryx_rows(rng: random.Random, rows: int):
    yield ["country", "origin", "system", "status", "url", "date_recorded", "sysID", "imageID", "statusID", "matID"]
    statuses = ["destroyed", "destroyed", "damaged", "abandoned", "captured"]
    for number in range(rows):
        country = "Russia" if rng.random() < 0.75 else "Ukraine"
        system = rng.choice(ORYX_SYSTEMS[country])
        if rng.random() < 0.4:
            system = f"{rng.randrange(1, 2000)} {system}"
        status = rng.choice(statuses)
        yield [
            country,
            rng.choice(ORYX_ORIGINS[country]),
            system,
            status,
            f"https://i.postimg.cc/{rng.randrange(16**8):08x}/{number}.jpg",
            (ORYX_FIRST_DAY + datetime.timedelta(days=rng.randrange(ORYX_DAYS))).isoformat(),
            str(rng.randrange(1, 300)),
            str(number),
            str(statuses.index(status) + 1),
            f"bench-{number}",
        ]


def positions_rows(rng: random.Random, rows: int):
    """Daily positions of a few hundred battalions under some dozens of brigades and a few armies."""
    yield ["date", "lat", "lng", "unit", "subordinate_to", "country", "strength", "type", "sources_url",
           "sources_date", "notes"]  # fmt: skip
    armies = [f"{n}th Combined Arms Army" for n in (6, 20, 29, 35, 36, 41, 49, 58)]
    brigades = [(f"{n}th Motor Rifle Brigade", rng.choice(armies)) for n in range(100, 160)]
    battalions = [(f"{n}th Battalion, {brigade}", brigade) for n in range(1, 6) for brigade, _ in brigades]
    units = [(name, parent, "brigade") for name, parent in brigades] + [(n, p, "battalion") for n, p in battalions]
    for number in range(rows):
        name, parent, kind = rng.choice(units)
        day = some_date(rng, 2022, 2025)
        yield [
            day.isoformat(),
            f"{rng.uniform(46.5, 52.5):.5f}",
            f"{rng.uniform(33.0, 40.0):.5f}",
            name,
            parent,
            "Russia",
            rng.choice(["", "1 BTG", "2 BTGs", "reduced"]),
            kind,
            f"https://t.me/bench_channel_{rng.randrange(20)}/{number}",
            (day + datetime.timedelta(days=rng.randrange(3))).isoformat(),
            f"Reported near the front on {day:%d %B %Y}." if rng.random() < 0.3 else "",
        ]


GENERATORS = {
    "ucdp": from_sample("ucdp_ged_v23_1_sample200.csv", revise_ucdp),
    "acled": from_sample("acled_sample.csv", revise_acled),
    "claims": claims_rows,
    "oryx": oryx_rows,
    "positions": positions_rows,
}


def generate(layout: str, rows: int, seed: int) -> Path:
    """Write (or reuse, when already written with these sizes and seed) one layout's file."""
    path = DATA / "imports" / f"{layout}-{rows}-seed{seed}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with open(partial, "w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows(GENERATORS[layout](random.Random(f"{layout}:{seed}"), rows))
        partial.rename(path)
    return path


# --- Databases and runs -------------------------------------------------------------------


def database_urls(pg_url: str, sqlite: Path) -> dict[str, str]:
    return {"pg": pg_url, "sqlite": f"sqlite:///{sqlite}"}


def recreate(backend: str, url: str) -> None:
    """Drop and create the scratch database, then migrate it."""
    if backend == "pg":
        import psycopg

        parts = urlsplit(url)
        name = parts.path.lstrip("/")
        with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
    else:
        path = Path(urlsplit(url).path)
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0", "--skip-checks"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
    )


def run_import(layout: str, path: Path, url: str, batch_size: int) -> dict:
    """Import in a process of its own (see :func:`child`); its summary and peak RSS."""
    result = subprocess.run(
        [sys.executable, __file__, "--child", layout, str(path), "--batch-size", str(batch_size)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.splitlines()[-1])


def child(layout: str, path: str, batch_size: int) -> None:
    """In the import process: run the command, then print its figures as JSON."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osint.settings")
    django.setup()
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(COMMANDS[layout], path, "--no-progress", "--batch-size", str(batch_size), stdout=out, verbosity=1)
    summary = out.getvalue().strip().splitlines()[-1]
    match = re.search(r"([\d,]+) rows in ([\d.]+) s \(([\d,]+) rows/s\): ([\d,]+) created, ([\d,]+) updated, "
                      r"([\d,]+) unchanged, ([\d,]+) rejected", summary)  # fmt: skip
    rows, seconds, rate, created, updated, unchanged, rejected = (float(g.replace(",", "")) for g in match.groups())
    status = Path("/proc/self/status").read_text()
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) // 1024
    figures = {"rows": rows, "seconds": seconds, "rate": rate, "created": created, "updated": updated}
    figures |= {"unchanged": unchanged, "rejected": rejected, "peak_mb": peak, "summary": summary}
    print(json.dumps(figures))


def report(results: list[dict], *, rows: int, seed: int) -> str:
    lines = [
        f"# Import speed, {rows:,} rows per file (seed {seed}), {datetime.datetime.now():%Y-%m-%d %H:%M}",
        "",
        "| layout | database | run | rows | created | updated | unchanged | rejected | seconds | rows/s | target | "
        "peak RSS |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        target = TARGETS[(r["run"], r["backend"])]
        verdict = f"{target:,} {'met' if r['rate'] >= target else 'missed'}"
        lines.append(
            f"| {r['layout']} | {BACKEND_NAMES[r['backend']]} | {r['run']} | {r['rows']:,.0f} | {r['created']:,.0f} | "
            f"{r['updated']:,.0f} | {r['unchanged']:,.0f} | {r['rejected']:,.0f} | {r['seconds']:.1f} | "
            f"{r['rate']:,.0f} | {verdict} | {r['peak_mb']:,} MB |"
        )
    met = sum(r["rate"] >= TARGETS[(r["run"], r["backend"])] for r in results)
    lines += ["", f"{met} of {len(results)} runs met their target.", ""]
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, help="Rows per file (default 100,000).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="3,000 rows per file (unless --rows says otherwise).")
    parser.add_argument("--layouts", default=",".join(GENERATORS))
    parser.add_argument("--backends", default="pg,sqlite")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/osint_import_bench")
    parser.add_argument("--sqlite", type=Path, default=DATA / "imports.sqlite3", help="The scratch SQLite file.")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Where the report goes (default bench/results).")
    parser.add_argument("--generate-only", action="store_true", help="Write the files, import nothing.")
    parser.add_argument("--no-report", action="store_true", help="Print the table, write no file in bench/results.")
    parser.add_argument("--child", nargs=2, metavar=("LAYOUT", "FILE"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if options.child:
        child(*options.child, options.batch_size)
        return []
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osint.settings")
    import django

    django.setup()  # the claims generator reads the importer's header
    rows = options.rows or (3_000 if options.smoke else 100_000)
    layouts, backends = options.layouts.split(","), options.backends.split(",")
    files = {layout: generate(layout, rows, options.seed) for layout in layouts}
    if options.generate_only:
        print("\n".join(str(path) for path in files.values()))
        return []
    results = []
    for backend in backends:
        url = database_urls(options.pg_url, options.sqlite)[backend]
        recreate(backend, url)
        for layout in layouts:
            for run in ("new", "unchanged"):
                figures = run_import(layout, files[layout], url, options.batch_size)
                results.append({"layout": layout, "backend": backend, "run": run, **figures})
                print(f"{layout} {backend} {run}: {figures['summary']} peak RSS {figures['peak_mb']} MB", flush=True)
    table = report(results, rows=rows, seed=options.seed)
    print(table)
    if not options.no_report:
        options.out.mkdir(parents=True, exist_ok=True)
        path = options.out / f"imports-{datetime.datetime.now():%Y%m%d-%H%M%S}.md"
        path.write_text(table)
        print(f"Written to {path}")
    return results


if __name__ == "__main__":
    main()
