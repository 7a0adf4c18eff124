"""Import Oryx's lists of equipment losses, one row per item, in the layout of the ``oryx_data`` scrape.

Columns: ``country, origin, system, status, url, date_recorded, sysID, imageID, statusID,
matID`` (the scrape's ``event_destroyed.csv``, ``event_damaged.csv``, ``event_abandoned.csv``
and ``event_captured.csv``). One row is one lost item with the image that confirms it.

**One casualty report per row**, ``oryx:<matID>``:

- ``country`` from ``country``, whose equipment it was (Russia RU, Ukraine UA, other names
  through django-countries); an unknown name rejects the row.
- ``category`` is ``status``: destroyed, damaged, abandoned or captured; anything else rejects
  the row.
- ``equipment_type`` from the system's name by the first rule of :data:`EQUIPMENT_RULES` that
  matches it (``other`` when none does).
- ``equipment_name`` is the system as Oryx names it. Two quirks of the scrape are undone: it
  writes a double quote as two single ones (``BREM-Ch ''BREM-4''``), which becomes one double
  quote (``BREM-Ch "BREM-4"``); and about 40% of its names begin with Oryx's running count
  of that system when the item was listed (``1094 BMP-2(K)``), which is dropped, so that one
  system has one name; a character the scrape wrote as ``<U+0421>`` is that character again.
  The description gives the name as the scrape wrote it, and the count.
- ``low`` = ``best`` = ``high`` = 1, kind count, credibility 2 (probably true: the loss is
  visually confirmed, but the image is not checked here).
- Dates: ``date_recorded`` is the day the scrape first saw the item listed, not the day it was
  lost. The report is ``as_of_date`` that day, with ``date_text`` saying the loss happened on
  or before it ("lost on or before 2022-05-27, when Oryx listed it"; the scrape's first day,
  2022-03-19, holds everything listed before it: "listed by 2022-03-19, with everything listed
  before"), and ``period_start`` 2022-02-24, the first day of the invasion.
- One citation, ``confirmed_by`` Oryx: ``url`` Oryx's list page of that country (none for
  another country), ``evidence_url`` the row's ``url`` (the image; one that is not a valid
  address rejects the row), ``published_date`` ``date_recorded`` (when Oryx published the
  item, which is what ``known_at`` goes by).

``origin`` (where the system was made) goes into the description; ``sysID``, ``imageID`` and
``statusID`` (the scrape's own ids) are not imported.

**Oryx's totals.** After the rows, for each (country, status, equipment type) and each day
items were listed on (the days the count changes), one claim of the number of items listed
by that day: ``oryx:total:<country>:<status>:<type>:<date>``, ``equipment_name`` blank,
kind count, ``low`` = ``best`` = the count and ``high`` open (Oryx counts only the losses it
has an image of: the real losses are at least that many), ``as_of_date`` the day,
``period_start`` 2022-02-24, ``claimed_by`` Oryx. These are what consensus compares with other
sources' totals (the items, which name a system, it leaves out). They count the items this
import accepted; re-importing the file writes none of them again, a later file updates them
and adds the new days, and a total the file no longer gives (of a country and status it has)
is deleted. Totals of a country and status the file has no item of are left alone, so the
scrape's four files (one per status) can be imported one after the other.

**Source**: "Oryx" (slug ``oryx``, kind other, reliability B, country NL), created if missing.
"""

import datetime
import re
from collections import defaultdict

from django.db.models import Count
from django.db.models.expressions import RawSQL

from events import choices
from events.models import CasualtyReport

from .base import (
    CitationSpec,
    Importer,
    ReportSpec,
    RowReader,
    RowRecord,
    SourceSpec,
    Totals,
    country_code,
)
from .bulk import BulkWriter

Type = choices.EquipmentType

ORYX = SourceSpec(
    slug="oryx",
    name="Oryx",
    kind=choices.SourceKind.OTHER,
    reliability=choices.Reliability.B,
    country="NL",
    homepage="https://www.oryxspioenkop.com/",
    description=(
        "Open-source intelligence and defence analysis website (Stijn Mitzer, Joost Oliemans). Its lists of "
        "equipment losses in the Russian invasion of Ukraine count only losses shown by a photograph or video, "
        "one image per item, so its totals are lower bounds. Imported from the scarnecchia/oryx_data scrape "
        "(CC BY 4.0)."
    ),
)
# Oryx's list page of each country's losses, and its title.
LIST_PAGES = {
    "RU": (
        "https://www.oryxspioenkop.com/2022/02/attack-on-europe-documenting-equipment.html",
        "Attack On Europe: Documenting Russian Equipment Losses During The Russian Invasion Of Ukraine",
    ),
    "UA": (
        "https://www.oryxspioenkop.com/2022/02/attack-on-europe-documenting-ukrainian.html",
        "Attack On Europe: Documenting Ukrainian Equipment Losses During The Russian Invasion Of Ukraine",
    ),
}
COUNTRIES = {"Russia": "RU", "Ukraine": "UA"}
STATUSES = {
    "destroyed": choices.CasualtyCategory.DESTROYED,
    "damaged": choices.CasualtyCategory.DAMAGED,
    "abandoned": choices.CasualtyCategory.ABANDONED,
    "captured": choices.CasualtyCategory.CAPTURED,
}
# Each equipment type in a sentence: "Russian tanks".
TYPE_WORDS = {
    Type.TANK: "tanks",
    Type.AFV: "armoured fighting vehicles",
    Type.IFV: "infantry fighting vehicles",
    Type.APC: "armoured personnel carriers",
    Type.ARTILLERY: "artillery pieces",
    Type.MRL: "multiple rocket launchers",
    Type.AIR_DEFENCE: "air defence systems",
    Type.AIRCRAFT: "aircraft",
    Type.HELICOPTER: "helicopters",
    Type.DRONE: "drones",
    Type.NAVAL_VESSEL: "naval vessels",
    Type.VEHICLE: "vehicles",
    Type.OTHER: "other equipment",
}
INVASION = datetime.date(2022, 2, 24)
FIRST_SCRAPE = datetime.date(2022, 3, 19)  # the scrape's first day: it holds everything listed before
ITEM_PREFIX = "oryx:"
TOTAL_PREFIX = "oryx:total:"

# The kind of materiel a system is, by its name as Oryx writes it: the first rule that matches
# wins (case-insensitive), else "other". The order matters where names overlap: engineering
# vehicles on tank chassis ("T-64 mine-clearing tank") before tanks, trucks whose names hold
# "tank" or "Tornado" before tanks and rocket launchers, anti-aircraft guns on carriers ("MT-LB
# with ZU-23 AA gun") before the carriers, rocket launchers before calibres, armoured vehicles
# built on trucks ("KamAZ-63968 Typhoon", "Ural Federal") before trucks.
EQUIPMENT_RULES: list[tuple[str, str]] = [
    # Engineering, recovery and command vehicles on tank or armoured chassis.
    (
        Type.AFV,
        r"mine[- ]clearing|armou?red recovery|combat engineering|heavy engineering|\bbridge ?layer|\bAVLB\b"
        r"|Assault Breacher|Bergepanzer|\bBREM\b|\bBREM-|\bIMR-|\bUR-77|\bBTS-\d|\bMTU-\d|\bM88|recovery vehicle"
        r"|\bR-149|\bM577|\b1V1\d|\bPRP-\d|Shturm|\bBMR-\d",
    ),
    # Trucks and cars whose names would match the rules below.
    (Type.VEHICLE, r"tank transporter|\btanker\b|fuel tank|Tornado-U|\bUAZ\b"),
    (
        Type.TANK,
        r"\bT-(?!12\b)\d{2}|\bPT-91|Leopard|Abrams|Challenger|Stridsvagn|\bM-84|\bM-55S|\bM60\b"
        r"|(?<!anti-)\btanks?\b",
    ),
    (Type.HELICOPTER, r"helicopter|\bMi-\d|\bKa-\d|\bAH-64|\bUH-60|\bSea King"),
    (
        Type.AIRCRAFT,
        r"\baircraft\b|\b(?:Su|MiG|Tu|Il|An|Yak|Be|L|A)-\d+|\bF-16|\bMirage|\bbomber\b|\bfighter\b",
    ),
    (
        Type.DRONE,
        r"\bUAVs?\b|\bdrones?\b|\bUCAV\b|Orlan|Forpost|Bayraktar|\bTB2\b|Eleron|\bZALA\b|Lancet|Shahed|Geran"
        r"|Mohajer|Orion|Inokhodets|Supercam|Granat|Leleka|Furia|Tachyon|\bPD-[12]\b|Mugin|Punisher"
        r"|Switchblade|Phoenix Ghost|loitering munition|\bKub-BLA|\bMerlin-VR",
    ),
    (
        Type.NAVAL_VESSEL,
        r"\bships?\b|\bboats?\b|\bvessels?\b|cruiser|frigate|corvette|submarine|landing craft|\btug\b"
        r"|\bProject \d+|\bpatrol craft",
    ),
    (
        Type.AIR_DEFENCE,
        r"air[- ]defen[cs]e|anti-aircraft|\bAA gun|\bSAM\b|\bSPAAG\b|\bZU-23|\bZSU-|Shilka|Tunguska|Pantsir"
        r"|\bBuk\b|\bBuk-|\bTor\b|\bTor-|\bTLAR\b|\bS-[1-5]00|Strela|\bOsa\b|\bKub\b|\bKrug\b|\bIgla"
        r"|\b9K3\d|\b9A3\d\d|\b9S\d{3}|Barnaul|Tin Shield|Clam Shell|radar|Gepard|IRIS-T|NASAMS|Patriot"
        r"|Avenger|Stormer|Crotale|\bHawk\b|\bS-60\b",
    ),
    (
        Type.MRL,
        r"\bBM-\d+|\bGrad\b|Uragan|Smerch|Tornado-[GS]|\bTOS-\d|HIMARS|\bM142\b|\bM270|\bRM-70|\b9K5[1-8]"
        r"|Vilkha|Bureviy|\bMLRS\b|rocket launcher|\bMRL\b",
    ),
    (
        Type.ARTILLERY,
        r"(?<![-\w])2S\d+|(?<![-\w])2A\d+|\bD-\d+|\bM777|\bM109|\bPzH\b|Panzerhaubitze|CAESAR|\bKrab\b|Zuzana|Bohdana|\bDana\b"
        r"|\bFH-70|\bL119|\bM119|\bTRF1|howitzer|mortar|field[- ]gun|anti-tank gun|\bgun\b|\d+mm\b",
    ),
    (
        Type.IFV,
        r"\bBMP\b|\bBMP-|\bBMD\b|\bBMD-|\bBRM\b|\bBRM-|Bradley|Marder|\bCV ?90|\bWarrior\b|\bPuma\b(?! 6x6)"
        r"|\bPbv 501|\bBWP-|\bBVP\b|\bBVP-|\bM2A\d|\bM-80A",
    ),
    (
        Type.APC,
        r"\bBTR\b|\bBTR-|\bMT-LB|\bM113|\bYPR-765|Stryker|\bVAB\b|\bBOV\b|\bPbv 302|Rosomak|\bSisu\b|\bXA-\d+"
        r"|\bFV10\d|\bAPCs?\b|armou?red personnel carrier|\bBvS ?10|Bandvagn|\bPatria\b|\bSaxon\b"
        r"|\bM1126",
    ),
    (
        Type.AFV,
        r"\bAFVs?\b|\bBRDM|\bMRAP\b|HMMWV|Humvee|\bIMV\b|Kirpi|MaxxPro|Cougar|Mastiff|\bM-ATV|\bM1117"
        r"|\bHusky\b|Dingo|Iveco LMV|\bLMV\b|\bTigr|Typhoon|Kozak|Roshel|Senator|Oncilla|Gyurza|\bPuma 6x6"
        r"|\bFFG\b|\bAMN-\d|Ural Federal|Akhmat|\bBuran\b|\bASV\b|AMX-10|Bushmaster|Spartan|\bVPK\b"
        r"|armou?red car|armou?red vehicle|reconnaissance vehicle",
    ),
    (
        Type.VEHICLE,
        r"\btrucks?\b|\bjeep\b|\bvan\b|\bcars?\b|\bbus\b|KamAZ|\bUral\b|\bUral-|\bGAZ\b|\bGAZ-|\bZiL|\bKrAZ"
        r"|\bMAZ\b|\bMAZ-|\bFMTV\b|\bMAN\b|Bogdan|Avtozak|\bVityaz\b|tracked carrier|amphibious transport"
        r"|\bPTS-\d|ambulance|communications station|\bvehicles?\b|Toyota|Land Rover|\bTatra\b|\bIveco\b"
        r"|\bMercedes|\bVolvo\b",
    ),
]
_COMPILED_RULES = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in EQUIPMENT_RULES]
# "1094 BMP-2(K)", "214 152mm 2S19 Msta-S": Oryx's count of the system, not its name (no system's
# name begins with a number and a space).
RUNNING_COUNT = re.compile(r"^(\d+) +(?=\S)")
ESCAPED_CHARACTER = re.compile(r"<U\+([0-9A-Fa-f]{4,6})>")  # "9<U+0421>932-1": "9С932-1"


def equipment_type(name: str) -> str:
    """The kind of materiel a system is, by the first of :data:`EQUIPMENT_RULES` its name matches."""
    for kind, pattern in _COMPILED_RULES:
        if pattern.search(name):
            return kind
    return Type.OTHER


def system_name(raw: str) -> tuple[str, int | None]:
    """(the system as Oryx names it, the running count the scrape put before it, if any); see the module."""
    name = ESCAPED_CHARACTER.sub(lambda match: chr(int(match[1], 16)), raw.replace("''", '"'))
    match = RUNNING_COUNT.match(name)
    if match:
        return name[match.end() :].strip(), int(match[1])
    return name, None


def item_date_text(day: datetime.date) -> str:
    if day == FIRST_SCRAPE:
        return f"listed by {day.isoformat()}, with everything listed before"
    return f"lost on or before {day.isoformat()}, when Oryx listed it"


def total_date_text(day: datetime.date) -> str:
    if day == FIRST_SCRAPE:
        return f"listed by {day.isoformat()}, with everything listed before"
    return f"listed by {day.isoformat()}"


def oryx_citation(country: str, role: str, *, published: datetime.date, evidence_url: str = "") -> CitationSpec:
    url, title = LIST_PAGES.get(country, ("", ""))
    values = {"url": url, "title": title, "published_date": published, "evidence_url": evidence_url}
    return CitationSpec(source=ORYX, role=role, values=values, columns=CITATION_COLUMNS)


REPORT_COLUMNS = {
    "external_id": "matID",
    "country": "country",
    "category": "status",
    "equipment_type": "system",
    "equipment_name": "system",
    "as_of_date": "date_recorded",
    "period_start": "date_recorded",
    "date_text": "date_recorded",
}
CITATION_COLUMNS = {"evidence_url": "url", "published_date": "date_recorded"}


class OryxImporter(Importer):
    label = "Oryx"
    required_columns = ("country", "origin", "system", "status", "url", "date_recorded", "matID")
    report_id_column = "matID"
    # Items are confirmed by Oryx; its totals are its claims.
    report_citation_roles = frozenset({choices.CitationRole.CONFIRMED_BY, choices.CitationRole.CLAIMED_BY})

    def parse_row(self, row: RowReader) -> RowRecord | None:
        mat_id = row.text("matID", required=True)
        country_name = row.text("country", required=True)
        category = row.choice("status", STATUSES, required=True)
        raw_system = row.text("system", required=True)
        listed = row.date("date_recorded", required=True)
        image = row.text("url", required=True)
        country = COUNTRIES.get(country_name) or country_code(country_name)
        if country_name and not country:
            row.reject("country", f"{country_name!r} is not a country name we know.")
        if row.problems:
            return None

        name, running_count = system_name(raw_system)
        kind = equipment_type(name)
        origin = row.text("origin")
        lines = [f"One {name} of {country_name}, {category}: an item of Oryx's list, with the image that confirms it."]
        if origin:
            lines.append(f"Made in {origin}.")
        if name != raw_system:
            written = f"The scrape names it “{raw_system}”"
            if running_count is not None:
                written += f", with Oryx's count of the system ({running_count:,}) when the item was listed"
            lines.append(written + ".")
        report = ReportSpec(
            external_id=f"{ITEM_PREFIX}{mat_id}",
            values={
                "country": country,
                "category": category,
                "equipment_type": kind,
                "equipment_name": row.clipped("system", name, 200),
                "kind": choices.FigureKind.COUNT,
                "low": 1,
                "best": 1,
                "high": 1,
                "as_of_date": listed,
                "period_start": INVASION,
                "date_precision": choices.DatePrecision.DAY,
                "date_text": item_date_text(listed),
                "credibility": choices.Credibility.PROBABLY_TRUE,
                "description": " ".join(lines),
            },
            citations=[oryx_citation(country, choices.CitationRole.CONFIRMED_BY, published=listed, evidence_url=image)],
            columns=REPORT_COLUMNS,
        )
        return RowRecord(line=row.line, reports=[report], counts_as="report")

    def totals(self, writer: BulkWriter) -> Totals:
        """Oryx's running totals of the items this import accepted (see the module docstring)."""
        subquery, params = writer.accepted_reports(ITEM_PREFIX)
        counts = (
            CasualtyReport.objects.filter(external_id__in=RawSQL(subquery, params))
            .exclude(external_id="")  # the condition of the external id's index: it is read through it
            .values_list("country", "category", "equipment_type", "as_of_date")
            .annotate(items=Count("id"))
            .order_by("country", "category", "equipment_type", "as_of_date")
        )
        by_subject = defaultdict(list)
        for country, category, kind, day, items in counts:
            by_subject[(country, category, kind)].append((day, items))

        records, given = [], defaultdict(set)
        for (country, category, kind), days in by_subject.items():
            listed = 0
            for day, items in days:
                listed += items
                key = f"{TOTAL_PREFIX}{country}:{category}:{kind}:{day.isoformat()}"
                given[(country, category)].add(key)
                spec = total_spec(key, country, category, kind, day, listed)
                records.append(RowRecord(line=0, reports=[spec], counts_as="report"))
        stale = [
            report
            for (country, category), keys in given.items()
            for report in CasualtyReport.objects.filter(
                country=country, category=category, unit=None, event=None, equipment_name=""
            )
            .filter(external_id__startswith=f"{TOTAL_PREFIX}{country}:{category}:")
            .exclude(external_id__in=keys)
        ]
        return Totals(records=records, stale=stale)


def total_spec(key: str, country: str, category: str, kind: str, day: datetime.date, listed: int) -> ReportSpec:
    whose = {"RU": "Russian", "UA": "Ukrainian"}.get(country, f"{country}'s")
    return ReportSpec(
        external_id=key,
        values={
            "country": country,
            "category": category,
            "equipment_type": kind,
            "equipment_name": "",
            "kind": choices.FigureKind.COUNT,
            "low": listed,
            "best": listed,
            "high": None,
            "as_of_date": day,
            "period_start": INVASION,
            "date_precision": choices.DatePrecision.DAY,
            "date_text": total_date_text(day),
            "credibility": choices.Credibility.PROBABLY_TRUE,
            "description": (
                f"Oryx's count of {whose} {TYPE_WORDS[kind]} {category}: {listed:,} items listed by "
                f"{day.isoformat()}, each with an image that confirms it. Oryx lists only losses it has an image "
                "of, so the losses are at least this many: the high is left open."
            ),
        },
        citations=[oryx_citation(country, choices.CitationRole.CLAIMED_BY, published=day)],
    )
