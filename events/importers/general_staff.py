"""Import the daily cumulative claims of Ukraine's General Staff of Russian losses, as PetroIvaniuk's dataset has them.

The files of ``PetroIvaniuk/2022-Ukraine-Russia-War-Dataset`` (``russia_losses_equipment.json``,
``russia_losses_personnel.json``) are JSON lists with one object per day: ``date``
(YYYY-MM-DD), ``day`` (of the invasion), then one cumulative figure per key. The keys change
over time. A record is one day: a problem is reported with the line of the file its object
starts on, the key as the column, and the day's date in the message.

**One casualty report per day and key**, ``general-staff:<date>:<key slug>``
(``general-staff:2022-02-25:field-artillery``): the General Staff's cumulative claim of Russian
losses since the invasion. Country RU, ``period_start`` 2022-02-24, ``as_of_date`` the day,
kind count, ``low`` = ``best`` = ``high`` = the figure, credibility 3 (possibly true: a
belligerent's claims of its enemy's losses, as the seed data rates Ukraine's), one citation
``claimed_by`` the General Staff with the title "Combat losses of the enemy as of <date>",
the date as its ``published_date`` and no URL (the dataset gives none).

Equipment ("combat losses") is category destroyed, with the equipment type of its key:

============================  ==============================================================
``aircraft``                  aircraft
``helicopter``                helicopter
``tank``                      tank
``APC``                       afv (the General Staff's "armoured combat vehicles", of every kind)
``field artillery``           artillery
``MRL``                       mrl
``drone``                     drone
``naval ship``                naval_vessel
``anti-aircraft warfare``     air_defence
``vehicles and fuel tanks``   vehicle
``military auto``,            vehicle: the two figures of the first 65 days are summed into the
``fuel tank``                 day's ``vehicles-and-fuel-tanks`` claim, the figure the later key
                              gives as one (the description gives both)
``special equipment``,        other, with the key as ``equipment_name``: each is its own figure,
``cruise missiles``,          not a total of a type, so consensus leaves them out
``mobile SRBM system``,
``ground robotic systems``
``submarines``                naval_vessel, with ``equipment_name`` "submarines" (the ships'
                              total is ``naval ship``)
============================  ==============================================================

Personnel (the dataset's personnel file): ``personnel`` is category killed, with no equipment
type. ``personnel*`` qualifies it: "about" makes the claim an estimate with only a ``best``
("about 2,800"), "more" a count with only a ``low`` ("more than 2,800"); any other word is
taken as "about", with a warning. ``POW`` is category captured.

``greatest losses direction`` (text: the front sector with the most losses that day) goes
into the description of each of that day's claims. ``day`` goes into the descriptions too.
A key not listed here is reported as a warning naming it and is not imported; a figure that is
not a whole number of zero or more rejects the day.

A day stands for several reports and no event, which ``events.imported`` cannot keep by one
digest: a re-import reads and compares every day again (and writes nothing that did not change).

**Source**: "General Staff of the Armed Forces of Ukraine" (slug ``general-staff-ukraine``,
kind military, a party to the conflict, reliability C as the seed data rates Ukraine's
government), created if missing.
"""

import datetime
import json

from django.utils.text import slugify

from events import choices

from .base import CitationSpec, Importer, ReportSpec, RowReader, RowRecord, SourceSpec, parse_date
from .oryx import INVASION, TYPE_WORDS

Type = choices.EquipmentType
Category = choices.CasualtyCategory

GENERAL_STAFF = SourceSpec(
    slug="general-staff-ukraine",
    name="General Staff of the Armed Forces of Ukraine",
    kind=choices.SourceKind.MILITARY,
    reliability=choices.Reliability.C,
    country="UA",
    party=True,
    description=(
        "Ukraine's General Staff, a party to the war. Each morning it publishes its cumulative figures of "
        "Russian losses since 24 February 2022 (“combat losses of the enemy”): a belligerent's claims, not "
        "verified counts. Imported from PetroIvaniuk/2022-Ukraine-Russia-War-Dataset (MIT)."
    ),
)

# Key -> (equipment type, equipment name): losses of equipment, category destroyed.
EQUIPMENT_KEYS = {
    "aircraft": (Type.AIRCRAFT, ""),
    "helicopter": (Type.HELICOPTER, ""),
    "tank": (Type.TANK, ""),
    "APC": (Type.AFV, ""),
    "field artillery": (Type.ARTILLERY, ""),
    "MRL": (Type.MRL, ""),
    "drone": (Type.DRONE, ""),
    "naval ship": (Type.NAVAL_VESSEL, ""),
    "anti-aircraft warfare": (Type.AIR_DEFENCE, ""),
    "vehicles and fuel tanks": (Type.VEHICLE, ""),
    "special equipment": (Type.OTHER, "special equipment"),
    "cruise missiles": (Type.OTHER, "cruise missiles"),
    "submarines": (Type.NAVAL_VESSEL, "submarines"),
    "mobile SRBM system": (Type.OTHER, "mobile SRBM system"),
    "ground robotic systems": (Type.OTHER, "ground robotic systems"),
}
VEHICLES = "vehicles and fuel tanks"
VEHICLE_PARTS = ("military auto", "fuel tank")  # the first days' keys, which VEHICLES merges
# Key -> category: losses of personnel.
PERSONNEL_KEYS = {"personnel": Category.KILLED, "POW": Category.CAPTURED}
QUALIFIER = "personnel*"
DIRECTION = "greatest losses direction"
OWN_KEYS = {"date", "day", QUALIFIER, DIRECTION, *VEHICLE_PARTS}
PERSONNEL_WORDS = {"personnel": "personnel killed", "POW": "prisoners of war"}
REPORT_COLUMNS = {"external_id": "date", "as_of_date": "date", "period_start": "date"}
CITATION_COLUMNS = {"published_date": "date", "title": "date"}


def shown(value) -> str:
    """A JSON value as the file writes it."""
    return json.dumps(value, ensure_ascii=False)


class GeneralStaffImporter(Importer):
    label = "General Staff"
    file_format = "json"
    event_id_column = report_id_column = "date"

    def parse_row(self, row: RowReader) -> RowRecord | None:
        record = row.row
        if not isinstance(record, dict):
            row.reject("", f"{shown(record)[:40]} is not an object (one per day, with date, day and figures).")
            return None
        date = self.date(row, record)
        day = record.get("day")
        if day is not None and (isinstance(day, bool) or not isinstance(day, int) or day < 0):
            row.reject("day", f"{shown(day)} is not a day of the invasion (a whole number), on {date or '?'}.")
        on = f"on {date.isoformat()}" if date else "on a day without a valid date"
        figures = {}
        for key, value in record.items():
            if key in EQUIPMENT_KEYS or key in PERSONNEL_KEYS or key in VEHICLE_PARTS:
                figures[key] = self.figure(row, key, value, on)
            elif key not in OWN_KEYS:
                message = f"the key {key!r} ({shown(value)[:40]}) {on} is not one this importer knows; not imported."
                row.warn(key, message)
        if VEHICLES in figures and any(key in figures for key in VEHICLE_PARTS):
            given = next(key for key in VEHICLE_PARTS if key in figures)
            row.reject(given, f"{on} the record gives both {given!r} and {VEHICLES!r}, which merges it.")
        if not figures and not row.problems:
            row.reject("", f"the record {on} gives no figure.")
        if row.problems:
            return None

        direction = record.get(DIRECTION)
        if direction is not None and not isinstance(direction, str):
            row.warn(DIRECTION, f"{shown(direction)[:40]} {on} is not text; left out.")
            direction = None
        when = f"as of {date.isoformat()}" + (f" (day {day} of the invasion)" if day is not None else "")
        notes = f" It named {direction.strip()} the direction of the greatest losses that day." if direction else ""
        citation = CitationSpec(
            source=GENERAL_STAFF,
            role=choices.CitationRole.CLAIMED_BY,
            values={"url": "", "title": f"Combat losses of the enemy as of {date.isoformat()}", "published_date": date},
            columns=CITATION_COLUMNS,
        )
        if any(key in figures for key in VEHICLE_PARTS):
            parts = {key: figures.pop(key) for key in VEHICLE_PARTS if key in figures}
            figures[VEHICLES] = sum(parts.values())
            summed = " and ".join(f"“{key}” ({number:,})" for key, number in parts.items())
            vehicles_note = f" The sum of the dataset's {summed}, the figures the later key “{VEHICLES}” gives as one."
        else:
            vehicles_note = ""

        reports = []
        for key, number in figures.items():
            values = {
                "country": "RU",
                "kind": choices.FigureKind.COUNT,
                "low": number,
                "best": number,
                "high": number,
                "as_of_date": date,
                "period_start": INVASION,
                "date_precision": choices.DatePrecision.DAY,
                "date_text": "",
                "credibility": choices.Credibility.POSSIBLY_TRUE,
            }
            if key in PERSONNEL_KEYS:
                values |= {"category": PERSONNEL_KEYS[key], "equipment_type": "", "equipment_name": ""}
                what = f"Russian {PERSONNEL_WORDS[key]}"
                if key == "personnel" and QUALIFIER in record:
                    values = self.qualified(row, record[QUALIFIER], values, on)
            else:
                kind, name = EQUIPMENT_KEYS[key]
                values |= {"category": Category.DESTROYED, "equipment_type": kind, "equipment_name": name}
                what = f"Russian {name or TYPE_WORDS[kind]} destroyed (“{key}”)"
            figure = values["best"] if values["best"] is not None else values["low"]
            qualifier = {"about": "about ", "more": "more than "}.get(values.pop("qualifier", ""), "")
            values["description"] = (
                f"The General Staff of the Armed Forces of Ukraine's claim of the enemy's combat losses since "
                f"24 February 2022, {when}: {what}, {qualifier}{figure:,}."
                + (vehicles_note if key == VEHICLES else "")
                + notes
            )
            reports.append(
                ReportSpec(
                    external_id=f"general-staff:{date.isoformat()}:{slugify(key)}",
                    values=values,
                    citations=[citation],
                    columns={**REPORT_COLUMNS, "low": key, "best": key, "high": key},
                )
            )
        return RowRecord(line=row.line, reports=reports, counts_as="report")

    @staticmethod
    def date(row: RowReader, record: dict) -> datetime.date | None:
        raw = record.get("date")
        value = parse_date(raw) if isinstance(raw, str) else None
        if raw is None:
            row.reject("date", "is required (the day the figures are as of, YYYY-MM-DD).")
        elif value is None:
            row.reject("date", f"{shown(raw)[:40]} is not a date (expected YYYY-MM-DD).")
        return value

    @staticmethod
    def figure(row: RowReader, key: str, value, on: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            row.reject(key, f"{shown(value)[:40]} {on} is not a number.")
        elif isinstance(value, float) and not value.is_integer():
            row.reject(key, f"{shown(value)} {on} is not a whole number.")
        elif value < 0:
            row.reject(key, f"{shown(value)} {on} is less than 0.")
        else:
            return int(value)
        return None

    @staticmethod
    def qualified(row: RowReader, qualifier, values: dict, on: str) -> dict:
        """The personnel claim as ``personnel*`` qualifies it (see the module docstring)."""
        word = qualifier.strip().casefold() if isinstance(qualifier, str) else ""
        if word not in ("about", "more"):
            row.warn(QUALIFIER, f"{shown(qualifier)[:40]} {on} is neither “about” nor “more”; taken as “about”.")
            word = "about"
        number = values["best"]
        if word == "about":
            values |= {"kind": choices.FigureKind.ESTIMATE, "low": None, "high": None}
        else:
            values |= {"low": number, "best": None, "high": None}
        return values | {"qualifier": word}
