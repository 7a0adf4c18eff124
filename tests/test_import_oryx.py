"""The Oryx importer (events/importers/oryx.py) on the real scrape file in shared/data, and on small
files made here: items, their dates and citations, the equipment-type rules, Oryx's running totals,
bad rows, dry runs and re-imports."""

import datetime
import re
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import CommandError

from events.importers.oryx import FIRST_SCRAPE, equipment_type, system_name
from events.models import CasualtyReport, Citation, Source

from .test_importers import UCDP_SAMPLE, database_counts, history_counts, read_csv, run, write_csv

ORYX_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "oryx_event_abandoned.csv"
needs_real_file = pytest.mark.skipif(
    not ORYX_FILE.exists(), reason=f"{ORYX_FILE} is not there: shared/data is not beside this checkout"
)
HEADER = ["country", "origin", "system", "status", "url", "date_recorded", "sysID", "imageID", "statusID", "matID"]
COUNTRIES = {"Russia": "RU", "Ukraine": "UA"}
RUSSIAN_LIST = "https://www.oryxspioenkop.com/2022/02/attack-on-europe-documenting-equipment.html"
UKRAINIAN_LIST = "https://www.oryxspioenkop.com/2022/02/attack-on-europe-documenting-ukrainian.html"
BROKEN_IMAGE_LINE = 36  # its url column holds two addresses run together

pytestmark = pytest.mark.django_db


def real_rows():
    """(line, row) of each record of the real file."""
    return read_csv(ORYX_FILE)[1]


def importable(row) -> bool:
    """Whether a row of the real file imports: all do but the one with the broken image address."""
    return re.fullmatch(r"https://[^:]+", row["url"]) is not None


def expected_totals(rows) -> dict[str, int]:
    """Oryx's running totals of these rows, counted here: external id -> items listed by that day."""
    listed = Counter()
    for row in rows:
        if importable(row):
            kind = equipment_type(system_name(row["system"])[0])
            listed[(COUNTRIES[row["country"]], row["status"], kind, row["date_recorded"])] += 1
    totals, running = {}, Counter()
    for country, status, kind, day in sorted(listed):
        running[(country, status, kind)] += listed[(country, status, kind, day)]
        totals[f"oryx:total:{country}:{status}:{kind}:{day}"] = running[(country, status, kind)]
    return totals


def database_totals() -> dict[str, int]:
    return dict(CasualtyReport.objects.filter(external_id__startswith="oryx:total:").values_list("external_id", "best"))


def items():
    return CasualtyReport.objects.filter(external_id__startswith="oryx:").exclude(external_id__startswith="oryx:total:")


def totals_line(old: dict[str, int], new: dict[str, int]) -> str:
    """The summary's sentence on the totals when a file with totals ``new`` is imported over ``old``."""
    created = len(new.keys() - old.keys())
    deleted = len(old.keys() - new.keys())
    updated = sum(1 for key in new.keys() & old.keys() if new[key] != old[key])
    unchanged = len(new) - created - updated
    return (
        f"{len(new):,} totals: {created:,} created, {updated:,} updated, {unchanged:,} unchanged, {deleted:,} deleted."
    )


# --- The real file ------------------------------------------------------------------------


@needs_real_file
def test_the_real_file_imports_every_item_but_the_one_with_a_broken_image_address():
    rows = [row for _, row in real_rows()]
    assert len(rows) == 2473

    out, err = run("import_oryx", ORYX_FILE)

    totals = expected_totals(rows)
    assert "2,473 rows" in out and "2,472 created, 0 updated, 0 unchanged, 1 rejected" in out
    assert f"{len(totals):,} totals: {len(totals):,} created, 0 updated, 0 unchanged, 0 deleted." in out
    assert err.strip() == f"rejected line {BROKEN_IMAGE_LINE}, column url: Enter a valid URL."
    assert items().count() == 2472
    assert database_counts() == {
        "events": 0,
        "reports": 2472 + len(totals),
        "citations": 2472 + len(totals),  # one per item and one per total
        "sources": 1,
    }
    assert Counter(items().values_list("country", flat=True)) == {"RU": 1800 - 1, "UA": 673}  # line 36 is Russian
    assert set(items().values_list("category", flat=True)) == {"abandoned"}
    oryx = Source.objects.get(slug="oryx")
    assert (oryx.name, oryx.kind, oryx.reliability, oryx.homepage, oryx.party) == (
        "Oryx",
        "other",
        "B",
        "https://www.oryxspioenkop.com/",
        False,
    )
    assert not Citation.objects.exclude(source=oryx).exists()


@needs_real_file
def test_real_rows_are_mapped_field_by_field():
    lines = dict(real_rows())
    run("import_oryx", ORYX_FILE)

    # Line 2: Russia,Russia,(Unknown) truck,abandoned,https://i.postimg.cc/prhtMJt6/gg4.jpg,2022-05-27,3,17,4,7-3174
    row = lines[2]
    report = CasualtyReport.objects.get(external_id=f"oryx:{row['matID']}")
    assert report.external_id == "oryx:7-3174"
    assert (report.country.code, report.category, report.equipment_type, report.equipment_name) == (
        "RU",
        "abandoned",
        "vehicle",
        "(Unknown) truck",
    )
    assert (report.low, report.best, report.high, report.kind, report.credibility) == (1, 1, 1, "count", 2)
    assert (report.as_of_date, report.period_start, report.date_precision) == (
        datetime.date(2022, 5, 27),
        datetime.date(2022, 2, 24),
        "day",
    )
    assert report.date_text == "lost on or before 2022-05-27, when Oryx listed it"
    assert report.unit is None and report.event is None
    assert "Made in Russia." in report.description
    citation = report.citations.select_related("source").get()
    assert (citation.source.slug, citation.role, citation.url, citation.evidence_url, citation.published_date) == (
        "oryx",
        "confirmed_by",
        RUSSIAN_LIST,
        "https://i.postimg.cc/prhtMJt6/gg4.jpg",
        datetime.date(2022, 5, 27),
    )
    assert citation.title.startswith("Attack On Europe: Documenting Russian Equipment Losses")

    # Line 38: "1094 BMP-2(K)", the scrape's running count before the name.
    report = CasualtyReport.objects.get(external_id=f"oryx:{lines[38]['matID']}")
    assert (report.equipment_name, report.equipment_type) == ("BMP-2(K)", "ifv")
    assert "“1094 BMP-2(K)”" in report.description and "(1,094)" in report.description
    assert "Made in Soviet Union." in report.description
    # Line 1132: the scrape's doubled quotes are one double quote again.
    report = CasualtyReport.objects.get(external_id=f"oryx:{lines[1132]['matID']}")
    assert report.equipment_name == 'BREM-Ch "BREM-4" armoured recovery vehicle'
    assert report.equipment_type == "afv"
    # Line 1173: listed on the scrape's first day, with a character the scrape escaped.
    report = CasualtyReport.objects.get(external_id=f"oryx:{lines[1173]['matID']}")
    assert report.equipment_name == "Barnaul-T 9С932-1 automated system for air defence units"
    assert (report.equipment_type, report.as_of_date) == ("air_defence", FIRST_SCRAPE)
    assert report.date_text == "listed by 2022-03-19, with everything listed before"
    # Line 1373: the cruiser Moskva, its evidence a tweet.
    report = CasualtyReport.objects.get(external_id="oryx:7-5563193524")
    assert report.equipment_type == "naval_vessel"
    assert report.citations.get().evidence_url == "https://twitter.com/RALee85/status/1514379537903235074"
    # Line 2213: a Ukrainian Leopard 2A6, cited to Oryx's Ukrainian list.
    row = lines[2213]
    report = CasualtyReport.objects.get(external_id=f"oryx:{row['matID']}")
    assert (report.country.code, report.equipment_type, report.equipment_name) == ("UA", "tank", "Leopard 2A6")
    citation = report.citations.get()
    assert (citation.url, citation.evidence_url, citation.published_date) == (
        UKRAINIAN_LIST,
        row["url"],
        datetime.date(2023, 6, 10),
    )
    # Every item as the file has it: country, status, listing day and image.
    by_id = {report.external_id: report for report in items().prefetch_related("citations")}
    for line, row in lines.items():
        if line == BROKEN_IMAGE_LINE:
            assert f"oryx:{row['matID']}" not in by_id
            continue
        report = by_id[f"oryx:{row['matID']}"]
        assert report.country.code == COUNTRIES[row["country"]]
        assert (report.category, report.as_of_date.isoformat()) == (row["status"], row["date_recorded"])
        assert report.citations.all()[0].evidence_url == row["url"]


@needs_real_file
def test_the_equipment_rules_type_almost_every_real_item():
    rows = [row for _, row in real_rows()]
    types = Counter(equipment_type(system_name(row["system"])[0]) for row in rows)
    assert types["other"] / len(rows) < 0.05, types
    # Every type a land war's abandoned equipment has is among them.
    assert {"tank", "ifv", "apc", "afv", "artillery", "mrl", "air_defence", "vehicle", "helicopter"} <= set(types)


REAL_NAMES = [
    ("T-72B3 Obr. 2016", "tank"),
    ("Leopard 2A6", "tank"),
    ("M1A1 SA Abrams", "tank"),
    ("Unknown T-80", "tank"),
    ("BMP-2(K)", "ifv"),
    ("M2A2 Bradley ODS-SA", "ifv"),
    ("CV9040C", "ifv"),
    ("BMD-4M", "ifv"),
    ("BTR-82A(M)", "apc"),
    ("MT-LB", "apc"),
    ("YPR-765", "apc"),
    ("M113AS4", "apc"),
    ("BRDM-2", "afv"),
    ("International M1224 MaxxPro", "afv"),
    ("Unknown AFV", "afv"),
    ("M1152 HMMWV", "afv"),
    ("BREM-1 armoured recovery vehicle", "afv"),
    ("T-64 mine-clearing tank", "afv"),
    ("152mm 2S19 Msta-S", "artillery"),
    ("122mm D-30 howitzer 2A18", "artillery"),
    ("100mm MT-12 anti-tank gun", "artillery"),
    ("122mm BM-21 'Grad'", "mrl"),
    ("220mm TOS-1A", "mrl"),
    ("122mm 2B17 Tornado-G", "mrl"),
    ("Pantsir-S1", "air_defence"),
    ("9K35 Strela-10", "air_defence"),
    ("MT-LB with ZU-23 AA gun", "air_defence"),
    ("Ka-52 'Alligator' attack helicopter", "helicopter"),
    ("Mi-8 transport helicopter", "helicopter"),
    ("ZALA 421-16Е", "drone"),
    ("Project 1164 Slava class guided missile cruiser 'Moskva'", "naval_vessel"),
    ("KamAZ 6x6", "vehicle"),
    ("Ural-4320", "vehicle"),
    ("Ural-63704-0010 Tornado-U", "vehicle"),
    ("MAN HX81 tank transporter", "vehicle"),
    ("UAZ Patriot", "vehicle"),
    ("(Unknown) truck", "vehicle"),
    ("9M114 Kokon", "other"),
]


@pytest.mark.parametrize(("name", "kind"), REAL_NAMES)
def test_equipment_type_of_real_names(name, kind):
    assert equipment_type(name) == kind


@needs_real_file
def test_the_names_checked_are_the_real_files():
    names = {system_name(row["system"])[0] for _, row in real_rows()}
    assert {name for name, _ in REAL_NAMES} <= names


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Su-34 strike aircraft", "aircraft"),
        ("MiG-29", "aircraft"),
        ("Orlan-10", "drone"),
        ("Bayraktar TB2", "drone"),
        ("M142 HIMARS", "mrl"),
        ("9K37 Buk-M1", "air_defence"),
        ("S-300PS", "air_defence"),
        ("155mm M777A2", "artillery"),
        ("120mm mortar", "artillery"),
        ("Raptor-class patrol boat", "naval_vessel"),
    ],
)
def test_equipment_type_of_names_of_the_other_lists(name, kind):
    assert equipment_type(name) == kind


@pytest.mark.parametrize(
    ("raw", "name", "count"),
    [
        ("1094 BMP-2(K)", "BMP-2(K)", 1094),
        ("214 152mm 2S19 Msta-S", "152mm 2S19 Msta-S", 214),
        ("BREM-Ch ''BREM-4'' armoured recovery vehicle", 'BREM-Ch "BREM-4" armoured recovery vehicle', None),
        ("Barnaul-T 9<U+0421>932-1 system", "Barnaul-T 9С932-1 system", None),
        ("122mm BM-21 'Grad'", "122mm BM-21 'Grad'", None),
        ("1V13 battery fire control center", "1V13 battery fire control center", None),
    ],
)
def test_system_names_undo_the_scrapes_quirks(raw, name, count):
    assert system_name(raw) == (name, count)


# --- Oryx's totals ------------------------------------------------------------------------


@needs_real_file
def test_the_totals_count_the_items_listed_by_each_day():
    rows = [row for _, row in real_rows()]
    run("import_oryx", ORYX_FILE)

    assert database_totals() == expected_totals(rows)
    # Oryx's count of abandoned Russian tanks is the file's rows of Russian tanks.
    russian_tanks = [
        row for row in rows if row["country"] == "Russia" and equipment_type(system_name(row["system"])[0]) == "tank"
    ]
    latest = (
        CasualtyReport.objects.filter(external_id__startswith="oryx:total:RU:abandoned:tank:")
        .order_by("-as_of_date")
        .first()
    )
    assert latest.best == len(russian_tanks) == items().filter(country="RU", equipment_type="tank").count() == 611
    assert latest.as_of_date.isoformat() == max(row["date_recorded"] for row in russian_tanks)
    assert (latest.low, latest.high, latest.kind, latest.equipment_name) == (611, None, "count", "")
    assert (latest.category, latest.equipment_type, latest.unit, latest.event) == ("abandoned", "tank", None, None)
    assert latest.period_start == datetime.date(2022, 2, 24)
    claim = latest.citations.select_related("source").get()
    assert (claim.source.slug, claim.role, claim.url, claim.published_date, claim.evidence_url) == (
        "oryx",
        "claimed_by",
        RUSSIAN_LIST,
        latest.as_of_date,
        "",
    )
    first = CasualtyReport.objects.get(external_id="oryx:total:RU:abandoned:tank:2022-03-19")
    assert first.best == sum(1 for row in russian_tanks if row["date_recorded"] == "2022-03-19")
    assert first.date_text == "listed by 2022-03-19, with everything listed before"
    # A total on every day the count changes, and on no other.
    days = {row["date_recorded"] for row in russian_tanks}
    assert {
        day.isoformat()
        for day in CasualtyReport.objects.filter(external_id__startswith="oryx:total:RU:abandoned:tank:").values_list(
            "as_of_date", flat=True
        )
    } == days


@needs_real_file
def test_a_second_import_changes_nothing():
    run("import_oryx", ORYX_FILE)
    counts, history = database_counts(), history_counts()
    stamps = dict(CasualtyReport.objects.values_list("pk", "updated_at"))
    totals = database_totals()

    out, err = run("import_oryx", ORYX_FILE)

    assert "0 created, 0 updated, 2,472 unchanged, 1 rejected" in out
    assert f"{len(totals):,} totals: 0 created, 0 updated, {len(totals):,} unchanged, 0 deleted." in out
    assert f"rejected line {BROKEN_IMAGE_LINE}, column url" in err
    assert database_counts() == counts
    assert history_counts() == history
    assert dict(CasualtyReport.objects.values_list("pk", "updated_at")) == stamps


@needs_real_file
def test_a_later_file_updates_the_changed_items_and_the_totals(tmp_path):
    header, records = read_csv(ORYX_FILE)
    rows = [row for _, row in records]
    run("import_oryx", ORYX_FILE)
    old_totals = database_totals()
    history = history_counts()

    # A Russian tank that was the only one listed on its day is listed later instead (its day's
    # total goes), another tank is renamed, and two tanks are new.
    tanks = [
        row for row in rows if row["country"] == "Russia" and equipment_type(system_name(row["system"])[0]) == "tank"
    ]
    per_day = Counter(row["date_recorded"] for row in tanks)
    moved = next(row for row in tanks if per_day[row["date_recorded"]] == 1 and row["date_recorded"] < "2025")
    moved_from = moved["date_recorded"]
    moved["date_recorded"] = "2025-07-20"
    renamed = next(row for row in tanks if row["system"] == "T-72B3" and row is not moved)
    renamed["system"] = "T-72B3 Obr. 2016"
    for number in (1, 2):
        rows.append(
            {**renamed, "system": "T-90M", "url": f"https://i.postimg.cc/new/{number}.jpg", "matID": f"new-{number}"}
        )
        rows[-1]["date_recorded"] = "2025-07-20"
    later = tmp_path / "event_abandoned.csv"
    write_csv(later, header, rows)
    new_totals = expected_totals(rows)

    out, _ = run("import_oryx", later)

    assert "2,475 rows" in out and "2 created, 2 updated, 2,470 unchanged, 1 rejected" in out
    assert totals_line(old_totals, new_totals) in out
    assert database_totals() == new_totals
    assert f"oryx:total:RU:abandoned:tank:{moved_from}" in old_totals.keys() - new_totals.keys()
    assert new_totals["oryx:total:RU:abandoned:tank:2025-07-20"] == 611 + 2
    report = CasualtyReport.objects.get(external_id=f"oryx:{moved['matID']}")
    assert report.as_of_date == datetime.date(2025, 7, 20)
    assert report.citations.get().published_date == datetime.date(2025, 7, 20)
    assert CasualtyReport.objects.get(external_id=f"oryx:{renamed['matID']}").equipment_name == "T-72B3 Obr. 2016"
    assert CasualtyReport.history.count() > history["CasualtyReport"]

    out, _ = run("import_oryx", later)
    assert f"{len(new_totals):,} totals: 0 created, 0 updated, {len(new_totals):,} unchanged, 0 deleted." in out


@needs_real_file
def test_a_file_of_another_status_leaves_these_totals_alone(tmp_path):
    run("import_oryx", ORYX_FILE)
    abandoned = dict(
        CasualtyReport.objects.filter(external_id__startswith="oryx:total:").values_list("pk", "updated_at")
    )
    row = {"country": "Russia", "origin": "Russia", "status": "destroyed", "sysID": "1", "imageID": "1"}
    rows = [
        {
            **row,
            "system": "T-72B3",
            "url": "https://i.postimg.cc/d/1.jpg",
            "date_recorded": "2022-03-19",
            "matID": "d-1",
        },
        {
            **row,
            "system": "T-80BV",
            "url": "https://i.postimg.cc/d/2.jpg",
            "date_recorded": "2022-03-19",
            "matID": "d-2",
        },
        {
            **row,
            "system": "T-90M",
            "url": "https://i.postimg.cc/d/3.jpg",
            "date_recorded": "2022-04-01",
            "matID": "d-3",
        },
        {
            **row,
            "system": "BMP-3",
            "url": "https://i.postimg.cc/d/4.jpg",
            "date_recorded": "2022-04-01",
            "matID": "d-4",
        },
    ]
    destroyed = tmp_path / "event_destroyed.csv"
    write_csv(destroyed, HEADER, [{**row, "statusID": "1"} for row in rows])

    out, _ = run("import_oryx", destroyed)

    assert "4 created" in out and "3 totals: 3 created, 0 updated, 0 unchanged, 0 deleted." in out
    assert {key: best for key, best in database_totals().items() if ":destroyed:" in key} == {
        "oryx:total:RU:destroyed:tank:2022-03-19": 2,
        "oryx:total:RU:destroyed:tank:2022-04-01": 3,
        "oryx:total:RU:destroyed:ifv:2022-04-01": 1,
    }
    # Every abandoned total is there, untouched.
    assert dict(CasualtyReport.objects.filter(pk__in=abandoned).values_list("pk", "updated_at")) == abandoned


# --- Bad rows, dry runs, other files -----------------------------------------------------


def test_bad_rows_are_reported_with_line_and_column_and_the_good_rows_import(tmp_path):
    good = {
        "country": "Russia",
        "origin": "Soviet Union",
        "system": "T-72B3",
        "status": "destroyed",
        "url": "https://i.postimg.cc/a/1.jpg",
        "date_recorded": "2023-01-05",
        "sysID": "1",
        "imageID": "1",
        "statusID": "1",
        "matID": "t-1",
    }
    rows = [
        good,  # line 2
        {**good, "country": "Atlantis", "matID": "t-2"},
        {**good, "status": "stolen", "matID": "t-3"},
        {**good, "date_recorded": "2023-02-30", "matID": "t-4"},
        {**good, "url": "not an address", "matID": "t-5"},
        {**good, "matID": ""},
        {**good, "url": "https://i.postimg.cc/a/7.jpg"},  # line 8: t-1 again
        {**good, "date_recorded": "2022-01-10", "matID": "t-8"},  # before the invasion
        {**good, "country": "Ukraine", "system": "Bayraktar TB2", "status": "captured", "matID": "t-9"},
        {**good, "system": "", "matID": "t-10"},
        {**good, "country": "Belarus", "system": "BTR-80", "status": "damaged", "matID": "t-11"},
    ]
    bad = tmp_path / "bad.csv"
    write_csv(bad, HEADER, rows)

    out, err = run("import_oryx", bad)

    assert "11 rows" in out and "3 created, 0 updated, 0 unchanged, 8 rejected" in out
    assert "rejected line 3, column country: 'Atlantis' is not a country name we know." in err
    assert "rejected line 4, column status: 'stolen' is not one of destroyed, damaged, abandoned, captured." in err
    assert "rejected line 5, column date_recorded: '2023-02-30' is not a date" in err
    assert "rejected line 6, column url: Enter a valid URL." in err
    assert "rejected line 7, column matID: is required." in err
    assert "rejected line 8, column matID: oryx:t-1 is also on line 2." in err
    assert "rejected line 9, column date_recorded: The period cannot start after the as-of date." in err
    assert "rejected line 11, column system: is required." in err
    assert len(err.strip().splitlines()) == 8
    assert set(items().values_list("external_id", "country", "category", "equipment_type")) == {
        ("oryx:t-1", "RU", "destroyed", "tank"),
        ("oryx:t-9", "UA", "captured", "drone"),
        ("oryx:t-11", "BY", "damaged", "apc"),
    }
    # A Belarusian item has no list page of Oryx's to cite.
    assert CasualtyReport.objects.get(external_id="oryx:t-11").citations.get().url == ""
    assert database_totals() == {
        "oryx:total:RU:destroyed:tank:2023-01-05": 1,
        "oryx:total:UA:captured:drone:2023-01-05": 1,
        "oryx:total:BY:damaged:apc:2023-01-05": 1,
    }


@needs_real_file
def test_dry_run_stores_nothing():
    totals = expected_totals([row for _, row in real_rows()])

    out, _ = run("import_oryx", ORYX_FILE, "--dry-run")

    assert out.startswith("Dry run, nothing was saved.")
    assert "2,472 created" in out and f"{len(totals):,} totals: {len(totals):,} created" in out
    assert database_counts() == {"events": 0, "reports": 0, "citations": 0, "sources": 0}
    assert history_counts() == {"Event": 0, "CasualtyReport": 0, "Citation": 0, "Source": 0}


def test_a_file_of_another_layout_is_refused():
    with pytest.raises(CommandError, match="lacks the columns origin, system, status, url, date_recorded, matID"):
        run("import_oryx", UCDP_SAMPLE)
    assert CasualtyReport.objects.count() == 0
