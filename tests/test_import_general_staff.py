"""The General Staff importer (events/importers/general_staff.py) on the real equipment file in
shared/data, and on small JSON files made here: the claims of each day and key, the merged vehicle
figures, personnel, bad records, dry runs and re-imports."""

import datetime
import json
from pathlib import Path

import pytest
from django.core.management import CommandError
from django.db.models import F

from events.importers import base
from events.models import CasualtyReport, Citation, Source

from .test_importers import database_counts, history_counts, run

GS_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "general_staff_russia_losses_equipment.json"
needs_real_file = pytest.mark.skipif(
    not GS_FILE.exists(), reason=f"{GS_FILE} is not there: shared/data is not beside this checkout"
)
# Key -> (report id suffix, equipment type, equipment name), as the importer documents them.
EQUIPMENT = {
    "aircraft": ("aircraft", "aircraft", ""),
    "helicopter": ("helicopter", "helicopter", ""),
    "tank": ("tank", "tank", ""),
    "APC": ("apc", "afv", ""),
    "field artillery": ("field-artillery", "artillery", ""),
    "MRL": ("mrl", "mrl", ""),
    "drone": ("drone", "drone", ""),
    "naval ship": ("naval-ship", "naval_vessel", ""),
    "anti-aircraft warfare": ("anti-aircraft-warfare", "air_defence", ""),
    "vehicles and fuel tanks": ("vehicles-and-fuel-tanks", "vehicle", ""),
    "special equipment": ("special-equipment", "other", "special equipment"),
    "cruise missiles": ("cruise-missiles", "other", "cruise missiles"),
    "submarines": ("submarines", "naval_vessel", "submarines"),
    "mobile SRBM system": ("mobile-srbm-system", "other", "mobile SRBM system"),
    "ground robotic systems": ("ground-robotic-systems", "other", "ground robotic systems"),
}

pytestmark = pytest.mark.django_db


def real_days() -> list[dict]:
    return json.loads(GS_FILE.read_text(encoding="utf-8"))


def expected_claims(days: list[dict]) -> dict[str, int]:
    """external id -> figure of each claim the days stand for, counted here."""
    claims = {}
    for record in days:
        for key, value in record.items():
            if key in EQUIPMENT:
                claims[f"general-staff:{record['date']}:{EQUIPMENT[key][0]}"] = value
        if "military auto" in record:
            vehicles = record["military auto"] + record.get("fuel tank", 0)
            claims[f"general-staff:{record['date']}:vehicles-and-fuel-tanks"] = vehicles
    return claims


def database_claims() -> dict[str, int]:
    reports = CasualtyReport.objects.filter(external_id__startswith="general-staff:")
    return dict(reports.values_list("external_id", "best"))


def write_days(path: Path, days: list) -> list[int]:
    """Write days as the dataset does (indented); the line each element starts on."""
    text = json.dumps(days, indent=4, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return [
        number
        for number, line in enumerate(text.splitlines(), 1)
        if line.startswith("    ") and line[4:5] not in (" ", "}")
    ]


# --- The real file ------------------------------------------------------------------------


@needs_real_file
def test_the_real_file_imports_one_claim_per_day_and_key():
    days = real_days()
    assert len(days) == 1626
    expected = expected_claims(days)

    out, err = run("import_general_staff", GS_FILE)

    assert "1,626 rows" in out and "1,626 created, 0 updated, 0 unchanged, 0 rejected; 0 warnings" in out
    assert err == ""
    assert database_claims() == expected
    assert database_counts() == {"events": 0, "reports": len(expected), "citations": len(expected), "sources": 1}
    staff = Source.objects.get(slug="general-staff-ukraine")
    assert (staff.name, staff.kind, staff.party, staff.reliability, staff.country.code) == (
        "General Staff of the Armed Forces of Ukraine",
        "military",
        True,
        "C",
        "UA",
    )
    assert not Citation.objects.exclude(source=staff, role="claimed_by").exists()
    reports = CasualtyReport.objects.filter(external_id__startswith="general-staff:")
    assert set(reports.values_list("country", "kind", "period_start")) == {("RU", "count", datetime.date(2022, 2, 24))}
    assert set(reports.values_list("category", flat=True)) == {"destroyed"}
    assert not reports.exclude(low=F("best")).exists() and not reports.exclude(high=F("best")).exists()
    assert not reports.filter(event__isnull=False).exists()


@needs_real_file
def test_the_figures_of_a_known_day_are_the_files():
    (day,) = [record for record in real_days() if record["date"] == "2026-08-08"]
    assert day["tank"] == 12251
    run("import_general_staff", GS_FILE)

    tank = CasualtyReport.objects.get(external_id="general-staff:2026-08-08:tank")
    assert (tank.low, tank.best, tank.high) == (12251, 12251, 12251)
    assert (tank.category, tank.equipment_type, tank.equipment_name, tank.country.code) == (
        "destroyed",
        "tank",
        "",
        "RU",
    )
    assert (tank.as_of_date, tank.period_start, tank.date_precision, tank.credibility) == (
        datetime.date(2026, 8, 8),
        datetime.date(2022, 2, 24),
        "day",
        3,
    )
    assert "day 1627" in tank.description and "12,251" in tank.description
    citation = tank.citations.select_related("source").get()
    assert (citation.source.slug, citation.role, citation.url, citation.published_date) == (
        "general-staff-ukraine",
        "claimed_by",
        "",
        datetime.date(2026, 8, 8),
    )
    assert citation.title == "Combat losses of the enemy as of 2026-08-08"
    # Every key of that day, with its type and name.
    for key, value in day.items():
        if key in ("date", "day"):
            continue
        suffix, kind, name = EQUIPMENT[key]
        report = CasualtyReport.objects.get(external_id=f"general-staff:2026-08-08:{suffix}")
        assert (report.best, report.equipment_type, report.equipment_name) == (value, kind, name), key


@needs_real_file
def test_the_first_days_vehicles_are_one_claim():
    (day,) = [record for record in real_days() if record["date"] == "2022-02-25"]
    assert (day["military auto"], day["fuel tank"]) == (100, 60)
    run("import_general_staff", GS_FILE)

    vehicles = CasualtyReport.objects.get(external_id="general-staff:2022-02-25:vehicles-and-fuel-tanks")
    assert (vehicles.low, vehicles.best, vehicles.high, vehicles.equipment_type) == (160, 160, 160, "vehicle")
    assert "“military auto” (100) and “fuel tank” (60)" in vehicles.description
    assert not CasualtyReport.objects.filter(external_id__contains="military-auto").exists()
    assert (
        not CasualtyReport.objects.filter(external_id__contains="fuel-tank")
        .exclude(external_id__endswith=":vehicles-and-fuel-tanks")
        .exists()
    )
    # The first day of the later key goes on from the merged figures.
    later = [record for record in real_days() if "vehicles and fuel tanks" in record][0]
    report = CasualtyReport.objects.get(external_id=f"general-staff:{later['date']}:vehicles-and-fuel-tanks")
    assert report.best == later["vehicles and fuel tanks"]
    assert "“military auto”" not in report.description


@needs_real_file
def test_the_direction_of_the_greatest_losses_is_in_that_days_descriptions():
    run("import_general_staff", GS_FILE)

    for suffix in ("tank", "apc", "mobile-srbm-system"):
        report = CasualtyReport.objects.get(external_id=f"general-staff:2022-04-25:{suffix}")
        assert "It named Sievierodonetsk the direction of the greatest losses that day." in report.description
    assert "greatest losses" not in CasualtyReport.objects.get(external_id="general-staff:2026-08-08:tank").description


@needs_real_file
def test_a_second_import_changes_nothing():
    run("import_general_staff", GS_FILE)
    counts, history = database_counts(), history_counts()
    stamps = dict(CasualtyReport.objects.values_list("pk", "updated_at"))

    out, _ = run("import_general_staff", GS_FILE)

    assert "0 created, 0 updated, 1,626 unchanged, 0 rejected" in out
    assert database_counts() == counts
    assert history_counts() == history
    assert dict(CasualtyReport.objects.values_list("pk", "updated_at")) == stamps


@needs_real_file
def test_a_revised_file_updates_the_changed_day_and_adds_the_new_one(tmp_path):
    days = real_days()
    run("import_general_staff", GS_FILE)
    history = history_counts()
    (changed,) = [record for record in days if record["date"] == "2024-01-15"]
    changed["tank"] += 1
    days.append({**days[-1], "date": "2026-08-09", "day": 1628, "tank": 12255})
    revised = tmp_path / "russia_losses_equipment.json"
    write_days(revised, days)

    out, _ = run("import_general_staff", revised)

    assert "1,627 rows" in out and "1 created, 1 updated, 1,625 unchanged, 0 rejected" in out
    assert database_claims() == expected_claims(days)
    assert CasualtyReport.objects.get(external_id="general-staff:2024-01-15:tank").best == changed["tank"]
    assert CasualtyReport.objects.get(external_id="general-staff:2026-08-09:tank").best == 12255
    new_history = {name: count - history[name] for name, count in history_counts().items()}
    # One report updated; the new day's reports and citations created.
    keys = len(days[-1]) - 2
    assert new_history == {"Event": 0, "CasualtyReport": 1 + keys, "Citation": keys, "Source": 0}


@needs_real_file
def test_dry_run_stores_nothing():
    out, _ = run("import_general_staff", GS_FILE, "--dry-run")

    assert out.startswith("Dry run, nothing was saved.") and "1,626 created" in out
    assert database_counts() == {"events": 0, "reports": 0, "citations": 0, "sources": 0}
    assert history_counts() == {"Event": 0, "CasualtyReport": 0, "Citation": 0, "Source": 0}


# --- Small files --------------------------------------------------------------------------


def test_the_personnel_file_imports_too(tmp_path):
    days = [
        {"date": "2022-02-25", "day": 2, "personnel": 2800, "personnel*": "about", "POW": 0},
        {"date": "2022-02-26", "day": 3, "personnel": 3500, "personnel*": "about", "POW": 200},
        {"date": "2022-02-27", "day": 4, "personnel": 4300, "personnel*": "more", "POW": 200},
        {"date": "2022-02-28", "day": 5, "personnel": 4500, "POW": 200},
    ]
    path = tmp_path / "russia_losses_personnel.json"
    write_days(path, days)

    out, err = run("import_general_staff", path)

    assert "4 created, 0 updated, 0 unchanged, 0 rejected; 0 warnings" in out and err == ""
    about = CasualtyReport.objects.get(external_id="general-staff:2022-02-25:personnel")
    assert (about.category, about.equipment_type, about.equipment_name, about.country.code) == ("killed", "", "", "RU")
    assert (about.kind, about.low, about.best, about.high) == ("estimate", None, 2800, None)
    assert "personnel killed, about 2,800." in about.description
    more = CasualtyReport.objects.get(external_id="general-staff:2022-02-27:personnel")
    assert (more.kind, more.low, more.best, more.high) == ("count", 4300, None, None)
    assert "more than 4,300" in more.description
    plain = CasualtyReport.objects.get(external_id="general-staff:2022-02-28:personnel")
    assert (plain.kind, plain.low, plain.best, plain.high) == ("count", 4500, 4500, 4500)
    prisoners = CasualtyReport.objects.get(external_id="general-staff:2022-02-26:pow")
    assert (prisoners.category, prisoners.equipment_type, prisoners.kind, prisoners.best) == (
        "captured",
        "",
        "count",
        200,
    )
    assert CasualtyReport.objects.get(external_id="general-staff:2022-02-25:pow").best == 0

    out, _ = run("import_general_staff", path)
    assert "0 created, 0 updated, 4 unchanged" in out


def test_bad_records_are_reported_with_line_key_and_day_and_the_good_ones_import(tmp_path):
    good = {"date": "2022-03-01", "day": 6, "tank": 198, "APC": 846, "military auto": 305, "fuel tank": 60}
    days = [
        good,
        {"date": "2022-03-02", "day": 7, "tank": "many", "APC": 862},
        {"date": "2022-03-03", "day": 8, "tank": -1, "APC": 862.5},
        {"date": "2022-03-32", "day": 9, "tank": 211},
        {"day": 10, "tank": 211},
        {"date": "2022-03-05", "day": 10, "tank": 251, "flamethrowers": 3},  # an unknown key: a warning
        {"date": "2022-03-06", "day": 11, "tank": 269, "military auto": 900, "vehicles and fuel tanks": 960},
        42,
        {"date": "2022-03-01", "day": 6, "tank": 199},  # the first day again
        {"date": "2022-03-07", "day": "eleven", "tank": 285},
        {"date": "2022-03-08", "day": 13, "greatest losses direction": "Kharkiv"},  # no figure
        {"date": "2022-03-09", "day": 14, "tank": None},
        {"date": "2022-03-10", "day": 15, "tank": 317, "greatest losses direction": "Kyiv"},
    ]
    path = tmp_path / "bad.json"
    lines = write_days(path, days)

    out, err = run("import_general_staff", path)

    assert "13 rows" in out and "3 created, 0 updated, 0 unchanged, 10 rejected; 1 warnings" in out
    for index, message in [
        (1, 'column tank: "many" on 2022-03-02 is not a number.'),
        (2, "column tank: -1 on 2022-03-03 is less than 0."),
        (2, "column APC: 862.5 on 2022-03-03 is not a whole number."),
        (3, 'column date: "2022-03-32" is not a date (expected YYYY-MM-DD).'),
        (4, "column date: is required"),
        (6, "column military auto: on 2022-03-06 the record gives both 'military auto' and 'vehicles and fuel"),
        (7, "column (row): 42 is not an object"),
        (8, "column date: general-staff:2022-03-01:tank is also on line 2."),
        (9, 'column day: "eleven" is not a day of the invasion'),
        (10, "column (row): the record on 2022-03-08 gives no figure."),
        (11, "column tank: null on 2022-03-09 is not a number."),
    ]:
        assert f"rejected line {lines[index]}, {message}" in err, (index, message, err)
    assert (
        f"warning line {lines[5]}, column flamethrowers: the key 'flamethrowers' (3) on 2022-03-05 is not one "
        "this importer knows; not imported." in err
    )
    assert lines[:2] == [2, 10]  # "{" on a line of its own, as in the dataset
    assert database_claims() == {
        "general-staff:2022-03-01:tank": 198,
        "general-staff:2022-03-01:apc": 846,
        "general-staff:2022-03-01:vehicles-and-fuel-tanks": 365,
        "general-staff:2022-03-05:tank": 251,
        "general-staff:2022-03-10:tank": 317,
    }
    assert "Kyiv" in CasualtyReport.objects.get(external_id="general-staff:2022-03-10:tank").description


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty."),
        ('{"date": "2022-03-01"}', "line 1: this is not a JSON list"),
        (
            '[\n    {"date": "2022-03-01", "tank": 1},\n    {"date": "2022-03-02", "tank": 2\n]',
            "line 4: Expecting ',' delimiter.",
        ),
        (
            '[\n    {"date": "2022-03-01", "tank": 1}\n    {"date": "2022-03-02", "tank": 2}\n]',
            "line 3: expected a comma",
        ),
        ('[\n    {"date": "2022-03-01", "tank": 1},\n]', "line 3: a comma before the end of the list."),
        ('[\n    {"date": "2022-03-01", "tank": 1}\n', "line 3: the file ends inside the list."),
        ('[{"date": "2022-03-01", "tank": 1}] []', "line 1: text after the end of the list."),
    ],
)
def test_a_file_that_is_no_json_list_is_refused(tmp_path, text, message):
    path = tmp_path / "broken.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError, match=f"broken.json, {message}"):
        run("import_general_staff", path)


def test_records_are_read_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(base.JsonRecords, "CHUNK_SIZE", 7)
    days = [{"date": f"2022-03-{day:02}", "day": day + 5, "tank": 1000 + day, "APC": 12345678} for day in range(1, 21)]
    path = tmp_path / "days.json"
    lines = write_days(path, days)

    out, _ = run("import_general_staff", path)

    assert "20 created" in out
    assert database_claims() == {
        **{f"general-staff:{record['date']}:tank": record["tank"] for record in days},
        **{f"general-staff:{record['date']}:apc": 12345678 for record in days},
    }
    assert lines[:2] == [2, 8]
