"""Fill the database with a large, realistic, reproducible synthetic dataset for benchmarks.

    manage.py generate_data                       # 1M events, 3M reports, 5,000 units, 2,000 sources
    manage.py generate_data --events 2000 --reports 6000 --units 200 --sources 50 --seed 7
    manage.py generate_data --force               # empties the events tables first

What it makes (every figure drawn from one seeded generator, so the same ``--seed`` and sizes
give the same rows on PostgreSQL and on SQLite):

- sources of every kind, with a reliability and a popularity (a few are cited very often);
- units in hierarchies at most 5 deep (contingent or army > corps > division > brigade >
  battalion), mostly of the countries at war;
- events spread over countries (weighted: UA, RU, SY, SD, ...), dated 2014-2025 (mostly
  2022 on) with a precision and the wording a source would use, ~70 % with coordinates
  inside the country's rough bounding box (clustered around places), titles and
  descriptions made of a fixed vocabulary so that ``?q=`` finds words of known frequency
  (``drone`` is common, ``convoy`` medium, ``ramstein`` rare), units involved;
- casualty reports on units (and events) with plausible low/best/high figures scaled to the
  unit's echelon, every kind (count, estimate, projection with a horizon, denial);
- 1-3 citations on every event and every report, roles mixed, with publication dates on or
  after what they report; a few links between claims (confirms, disputes, supersedes, ...).

It bypasses the ORM: rows go in with ``COPY`` on PostgreSQL and ``executemany`` on SQLite,
in one transaction, with the secondary indexes and foreign keys dropped during the load and
rebuilt afterwards; the sequences are reset and (on PostgreSQL) the tables vacuumed and analysed at the
end. So **the generated data has no history rows** (django-simple-history records nothing)
and no ``touch()`` side effects: fine for benchmarks, not a way to import real data.
"""

import gc
import json
import time
from datetime import date, timedelta

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction

from events import choices, counts, known, search
from events.models import CasualtyReport, CasualtyReportLink, Citation, Event, EventLink, EventUnit, Source, Unit

# Country, weight, rough bounding box (min_lon, min_lat, max_lon, max_lat), first-level regions, places.
# Russia's box is its European part, where nearly everything reported happens.
COUNTRIES = [
    (
        "UA",
        40,
        (22.1, 44.4, 40.2, 52.4),
        [
            "Donetsk Oblast",
            "Luhansk Oblast",
            "Kharkiv Oblast",
            "Zaporizhzhia Oblast",
            "Kherson Oblast",
            "Kyiv Oblast",
            "Sumy Oblast",
            "Dnipropetrovsk Oblast",
            "Mykolaiv Oblast",
            "Odesa Oblast",
        ],
        [
            "Bakhmut",
            "Avdiivka",
            "Kupiansk",
            "Pokrovsk",
            "Vuhledar",
            "Robotyne",
            "Chasiv Yar",
            "Toretsk",
            "Kramatorsk",
            "Sloviansk",
            "Izium",
            "Lyman",
            "Kherson",
            "Orikhiv",
            "Marinka",
            "Siversk",
            "Kostiantynivka",
            "Vovchansk",
            "Kyiv",
            "Odesa",
            "Mykolaiv",
            "Sumy",
            "Kharkiv",
            "Zaporizhzhia",
        ],
    ),
    (
        "RU",
        12,
        (27.3, 43.0, 60.0, 60.0),
        ["Kursk Oblast", "Belgorod Oblast", "Bryansk Oblast", "Rostov Oblast", "Krasnodar Krai", "Moscow Oblast"],
        [
            "Sudzha",
            "Shebekino",
            "Belgorod",
            "Kursk",
            "Lgov",
            "Korenevo",
            "Glushkovo",
            "Rylsk",
            "Bryansk",
            "Novorossiysk",
            "Taganrog",
            "Engels",
            "Yeysk",
            "Millerovo",
        ],
    ),
    (
        "SY",
        10,
        (35.7, 32.3, 42.4, 37.3),
        ["Aleppo", "Idlib", "Deir ez-Zor", "Raqqa", "Homs", "Hama", "Daraa", "Rif Dimashq", "Latakia"],
        [
            "Aleppo",
            "Saraqib",
            "Maarat al-Numan",
            "Palmyra",
            "Al-Bab",
            "Manbij",
            "Kobani",
            "Douma",
            "Hama",
            "Homs",
            "Daraa",
            "Al-Mayadin",
            "Abu Kamal",
            "Jisr al-Shughur",
        ],
    ),
    (
        "SD",
        8,
        (21.8, 8.7, 38.6, 22.2),
        ["Khartoum", "North Darfur", "West Darfur", "South Kordofan", "Al Jazirah", "White Nile"],
        [
            "Khartoum",
            "Omdurman",
            "Bahri",
            "El Fasher",
            "El Geneina",
            "Nyala",
            "Kadugli",
            "Wad Madani",
            "El Obeid",
            "Kosti",
        ],
    ),
    (
        "YE",
        5,
        (42.5, 12.1, 53.1, 19.0),
        ["Sanaa", "Marib", "Taiz", "Al Hudaydah", "Aden", "Saada"],
        ["Sanaa", "Marib", "Taiz", "Hodeidah", "Aden", "Saada", "Mukalla", "Al Bayda"],
    ),
    (
        "MM",
        5,
        (92.2, 9.8, 101.2, 28.5),
        ["Sagaing", "Shan", "Rakhine", "Kachin", "Karen", "Magway"],
        ["Lashio", "Myawaddy", "Sittwe", "Myitkyina", "Laukkai", "Monywa", "Hpakant", "Loikaw"],
    ),
    (
        "ML",
        3,
        (-12.2, 10.1, 4.3, 25.0),
        ["Mopti", "Gao", "Timbuktu", "Kidal", "Ségou"],
        ["Mopti", "Gao", "Timbuktu", "Kidal", "Ménaka", "Djenné", "Tessalit"],
    ),
    (
        "BF",
        3,
        (-5.5, 9.4, 2.4, 15.1),
        ["Sahel", "Est", "Centre-Nord", "Boucle du Mouhoun", "Nord"],
        ["Djibo", "Fada N'Gourma", "Kaya", "Dori", "Ouahigouya", "Arbinda", "Solenzo"],
    ),
    (
        "SO",
        3,
        (41.0, -1.7, 51.4, 12.0),
        ["Banaadir", "Lower Shabelle", "Middle Shabelle", "Bay", "Gedo"],
        ["Mogadishu", "Afgooye", "Baidoa", "Jowhar", "Beledweyne", "Kismayo", "Marka"],
    ),
    (
        "ET",
        3,
        (33.0, 3.4, 48.0, 14.9),
        ["Tigray", "Amhara", "Oromia", "Afar"],
        ["Mekelle", "Shire", "Gondar", "Bahir Dar", "Dessie", "Lalibela", "Adigrat"],
    ),
    (
        "IQ",
        2,
        (38.8, 29.1, 48.6, 37.4),
        ["Nineveh", "Anbar", "Kirkuk", "Saladin", "Baghdad"],
        ["Mosul", "Ramadi", "Fallujah", "Kirkuk", "Tikrit", "Baghdad", "Sinjar"],
    ),
    (
        "PS",
        2,
        (34.2, 31.2, 35.6, 32.6),
        ["Gaza Strip", "West Bank"],
        ["Gaza City", "Khan Younis", "Rafah", "Jabalia", "Deir al-Balah", "Jenin", "Nablus", "Tulkarm"],
    ),
    (
        "LB",
        1,
        (35.1, 33.0, 36.6, 34.7),
        ["South Governorate", "Nabatieh", "Beirut", "Beqaa"],
        ["Beirut", "Tyre", "Nabatieh", "Baalbek", "Bint Jbeil", "Sidon"],
    ),
    (
        "KP",
        1,
        (124.2, 37.7, 130.7, 43.0),
        ["Pyongyang", "North Hamgyong", "South Pyongan"],
        ["Pyongyang", "Chongjin", "Hamhung", "Wonsan"],
    ),
]
COUNTRY_NAMES = {
    "UA": "Ukraine", "RU": "Russia", "SY": "Syria", "SD": "Sudan", "YE": "Yemen", "MM": "Myanmar",
    "ML": "Mali", "BF": "Burkina Faso", "SO": "Somalia", "ET": "Ethiopia", "IQ": "Iraq", "PS": "Palestine",
    "LB": "Lebanon", "KP": "North Korea",
}  # fmt: skip
# Countries whose forces the units belong to, with weights (units of RU and UA dominate).
UNIT_COUNTRIES = {"UA": 30, "RU": 35, "SY": 8, "SD": 6, "YE": 4, "MM": 4, "ML": 2, "BF": 2, "SO": 2, "ET": 3,
                  "IQ": 2, "KP": 2}  # fmt: skip
# Whose units take part in events in a country, besides the country's own.
ADVERSARIES = {"UA": ["RU"], "RU": ["UA", "KP"], "SY": ["IQ"], "KP": ["RU"]}

# Words of the titles, descriptions and quotes, most frequent first (drawn with Zipf-like weights).
VOCABULARY = (
    "drone artillery shelling assault positions village frontline infantry tank missile strike "
    "attack defence offensive trench armoured vehicle airstrike rocket mortar convoy checkpoint "
    "ambush sniper bridge railway depot ammunition fuel airfield helicopter radar warehouse "
    "barracks headquarters evacuation hospital school substation refinery port ferry minefield "
    "counterattack reconnaissance encirclement withdrawal breakthrough bombardment casualties "
    "prisoners mercenaries volunteers reinforcements logistics supply corridor ceasefire truce "
    "negotiations humanitarian civilians displacement blackout sabotage partisan infiltration "
    "howitzer himars patriot kamikaze shahed lancet glide-bomb cluster thermobaric incendiary "
    "electronic-warfare jamming satellite footage geolocated confirmed disputed unverified "
    "ramstein kursk wagner"
).split()
RARE_WORDS = ("ramstein", "kursk", "wagner")  # appear in a small, known share of texts

EVENT_PHRASES = {
    choices.EventType.STRIKE: ["Drone strike", "Missile strike", "Airstrike", "Artillery strike", "Glide bomb strike",
                               "Rocket attack"],
    choices.EventType.COMBAT: ["Assault", "Counterattack", "Clashes", "Ambush", "Firefight", "Armoured assault"],
    choices.EventType.CAPTURE: ["Capture of positions", "Village captured", "Strongpoint taken"],
    choices.EventType.DEPLOYMENT: ["Deployment of troops", "Reinforcements arrive", "Troops deployed"],
    choices.EventType.WITHDRAWAL: ["Withdrawal", "Troops pull back", "Retreat"],
    choices.EventType.STATEMENT: ["Statement on fighting", "Officials claim gains", "Ministry briefing"],
    choices.EventType.TRAINING: ["Training exercise", "Drills", "Live-fire exercise"],
    choices.EventType.OTHER: ["Incident", "Explosion reported", "Sabotage reported"],
}  # fmt: skip
EVENT_TYPE_WEIGHTS = {"strike": 34, "combat": 30, "capture": 6, "deployment": 6, "withdrawal": 3, "statement": 12,
                      "training": 3, "other": 6}  # fmt: skip
YEAR_WEIGHTS = {2014: 3, 2015: 3, 2016: 2, 2017: 2, 2018: 2, 2019: 2, 2020: 3, 2021: 3, 2022: 15, 2023: 20,
                2024: 22, 2025: 23}  # fmt: skip
DATE_PRECISIONS = {"day": 62, "week": 12, "month": 14, "year": 3, "approximate": 9}
LOCATION_PRECISIONS = {"exact": 35, "near": 30, "admin2": 20, "admin1": 15}
UNIT_ROLES = {"participant": 50, "attacker": 25, "target": 15, "affected": 7, "other": 3}
CATEGORIES = {"killed": 35, "wounded": 20, "captured": 8, "missing": 7, "casualties": 25, "unspecified": 5}
FIGURE_KINDS = {"count": 45, "estimate": 35, "projection": 10, "denial": 10}
CREDIBILITY = {1: 10, 2: 25, 3: 30, 4: 15, 5: 5, 6: 15}
SOURCE_KINDS = {"government": 12, "military": 12, "intelligence": 6, "official": 10, "media": 35, "think_tank": 8,
                "ngo": 7, "social_media": 8, "other": 2}  # fmt: skip
RELIABILITY = {"A": 5, "B": 25, "C": 35, "D": 15, "E": 5, "F": 15}
LINK_RELATIONS = {"confirms": 40, "disputes": 25, "supersedes": 15, "revises": 15, "retracts": 5}
# Echelon by depth in a hierarchy, a typical strength, and a typical loss figure of one report.
ECHELONS = ["army", "corps", "division", "brigade", "battalion"]
ECHELON_STRENGTH = {"contingent": 12000, "army": 60000, "corps": 30000, "division": 12000, "brigade": 4000,
                    "battalion": 600}  # fmt: skip
ECHELON_LOSSES = {"contingent": 1500, "army": 5000, "corps": 2500, "division": 800, "brigade": 200, "battalion": 40}
BRANCHES = ["ground forces", "airborne forces", "marines", "national guard", "territorial defence", "air force"]
UNIT_KINDS = {
    "corps": ["Army Corps", "Assault Corps", "Guards Corps"],
    "division": ["Motor Rifle Division", "Tank Division", "Mechanized Division", "Airborne Division"],
    "brigade": ["Separate Mechanized Brigade", "Assault Brigade", "Artillery Brigade", "Marine Brigade",
                "Tank Brigade"],
    "battalion": ["Rifle Battalion", "Assault Battalion", "Tank Battalion", "Drone Battalion",
                  "Reconnaissance Battalion"],
}  # fmt: skip
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]  # fmt: skip

FIRST_DAY = date(2013, 1, 1)  # the day table starts early enough for periods before 2014
EVENTS_FROM, EVENTS_TO = date(2014, 1, 1), date(2025, 12, 31)
LAST_DAY = date(2026, 6, 30)  # publications and horizons may run past the last event

DEFAULTS = {"events": 1_000_000, "reports": 3_000_000, "units": 5000, "sources": 2000}
CHUNK = 20_000


def ordinal(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class Days:
    """Every day from FIRST_DAY to LAST_DAY as an index, with its texts and month and year bounds."""

    def __init__(self, np):
        count = (LAST_DAY - FIRST_DAY).days + 1
        days = [FIRST_DAY + timedelta(days=i) for i in range(count)]
        self.count = count
        self.iso = [d.isoformat() for d in days]
        self.day_text = [f"{d.day} {MONTHS[d.month - 1]} {d.year}" for d in days]
        self.month_text = [f"{MONTHS[d.month - 1]} {d.year}" for d in days]
        self.part_text = [
            f"{'early' if d.day <= 10 else 'mid' if d.day <= 20 else 'late'}-{MONTHS[d.month - 1]} {d.year}"
            for d in days
        ]
        self.year_text = [str(d.year) for d in days]
        self.path = [f"{d.year}/{d.month:02d}" for d in days]
        self.compact = [d.strftime("%Y%m%d") for d in days]
        index = {d: i for i, d in enumerate(days)}
        self.month_start = np.array([index[d.replace(day=1)] for d in days], dtype=np.int32)
        self.month_end = np.array(
            [
                index.get((d.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1), count - 1)
                for d in days
            ],
            dtype=np.int32,
        )
        self.year_start = np.array([index[date(d.year, 1, 1)] for d in days], dtype=np.int32)
        self.year_end = np.array([index.get(date(d.year, 12, 31), count - 1) for d in days], dtype=np.int32)
        self.index = index


def weighted(rng, np, table, size):
    """``size`` draws from the keys of ``table`` (a dict of weights), as indexes into ``list(table)``."""
    weights = np.array(list(table.values()), dtype=float)
    return rng.choice(len(weights), size=size, p=weights / weights.sum())


class Generator:
    """Makes the rows of each table in chunks, from numpy generators seeded per table."""

    def __init__(self, np, *, seed, sources, units, events, reports, links):
        self.np = np
        self.seed = seed
        self.n_sources, self.n_units, self.n_events, self.n_reports = sources, units, events, reports
        self.link_share = links
        self.days = Days(np)
        self.ts_suffix = "+00" if connection.vendor == "postgresql" else ""
        self.times = [f"{h:02d}:{m:02d}:00" for h in range(24) for m in range(60)]
        vocabulary_weights = 1.0 / np.arange(1, len(VOCABULARY) + 1) ** 0.9
        for word in RARE_WORDS:
            vocabulary_weights[VOCABULARY.index(word)] = vocabulary_weights[-1] / 8
        self.vocabulary_p = vocabulary_weights / vocabulary_weights.sum()
        # Places: each belongs to a first-level region and lies at a fixed point of the country's box.
        place_rng = self.rng("places")
        self.places = []  # per country: list of (name, admin1, lon, lat)
        for _code, _weight, (min_lon, min_lat, max_lon, max_lat), regions, names in COUNTRIES:
            lons = place_rng.uniform(min_lon, max_lon, len(names))
            lats = place_rng.uniform(min_lat, max_lat, len(names))
            self.places.append([(name, regions[i % len(regions)], lons[i], lats[i]) for i, name in enumerate(names)])
        # The same places flattened, for vectorised lookups: global index = place_offset[country] + local index.
        self.place_count = np.array([len(p) for p in self.places])
        self.place_offset = np.concatenate([[0], np.cumsum(self.place_count)[:-1]])
        self.place_lon = np.array([p[2] for places in self.places for p in places])
        self.place_lat = np.array([p[3] for places in self.places for p in places])
        self.place_name = [p[0] for places in self.places for p in places]
        self.place_admin1 = [p[1] for places in self.places for p in places]
        self.box = np.array([c[2] for c in COUNTRIES])  # min_lon, min_lat, max_lon, max_lat per country
        self.vocabulary = np.array(VOCABULARY, dtype=object)
        self.country_codes = [c[0] for c in COUNTRIES]
        weights = np.array([c[1] for c in COUNTRIES], dtype=float)
        self.country_p = weights / weights.sum()

    def rng(self, name):
        return self.np.random.default_rng([self.seed, *name.encode()])

    def words(self, rng, size, count):
        """``size`` rows of ``count`` words each, as a list of lists of strings."""
        drawn = rng.choice(len(VOCABULARY), size=(size, count), p=self.vocabulary_p)
        return self.vocabulary[drawn].tolist()

    def timestamp(self, day, minute):
        return f"{self.days.iso[day]} {self.times[minute]}{self.ts_suffix}"

    # Sources -------------------------------------------------------------------------------

    def sources(self):
        np, rng, n = self.np, self.rng("sources"), self.n_sources
        kinds = list(SOURCE_KINDS)
        kind = weighted(rng, np, SOURCE_KINDS, n).tolist()
        reliability = weighted(rng, np, RELIABILITY, n).tolist()
        country = rng.choice(len(COUNTRIES) + 4, n).tolist()
        extra = ["US", "GB", "FR", "DE"]
        word = self.words(rng, n, 2)
        created = rng.integers(0, 365, n).tolist()
        minute = rng.integers(0, 1440, n).tolist()
        self.source_slugs = []
        rows = []
        for i in range(n):
            pk = i + 1
            code = (self.country_codes + extra)[country[i]]
            k = kinds[kind[i]]
            place = COUNTRY_NAMES.get(code, code)
            name = {
                "government": f"Government of {place} ({pk})",
                "military": f"{place} General Staff {pk}",
                "intelligence": f"{place} Intelligence Service {pk}",
                "official": f"Official {pk} of {place}",
                "media": f"The {word[i][0].title()} {word[i][1].title()} {pk}",
                "think_tank": f"Institute for {word[i][0].title()} Studies {pk}",
                "ngo": f"{word[i][0].title()} Monitor {pk}",
                "social_media": f"Channel {word[i][0]}_{pk}",
                "other": f"Source {pk}",
            }[k]
            slug = f"{k.replace('_', '-')}-{pk}"
            self.source_slugs.append(slug)
            ts = self.timestamp(created[i], minute[i])
            # A belligerent country's government, forces and officials speak for a party.
            party = k in ("government", "military", "official") and code not in extra
            rows.append(
                (pk, ts, ts, name, slug, k, code, f"https://{slug}.example.org/",
                 f"A {k.replace('_', ' ')} covering {word[i][0]} and {word[i][1]}.",
                 list(RELIABILITY)[reliability[i]], party)
            )  # fmt: skip
        yield rows
        # Popularity: a few sources are cited far more often than the rest.
        popularity = 1.0 / np.arange(1, n + 1) ** 0.8
        self.source_p = popularity / popularity.sum()

    SOURCE_COLUMNS = ["id", "created_at", "updated_at", "name", "slug", "kind", "country", "homepage",
                      "description", "reliability", "party"]  # fmt: skip

    # Units ---------------------------------------------------------------------------------

    def units(self):
        """Breadth-first trees, so a parent always precedes its children."""
        np, rng, n = self.np, self.rng("units"), self.n_units
        codes = list(UNIT_COUNTRIES)
        weights = np.array(list(UNIT_COUNTRIES.values()), dtype=float)
        rows = []
        self.unit_country = []  # country code index (into self.country_codes) per unit
        self.unit_echelon = []
        self.unit_parent = []
        counters = {}
        while len(rows) < n:
            code = codes[rng.choice(len(codes), p=weights / weights.sum())]
            root_echelon = "contingent" if code == "KP" or rng.random() < 0.1 else "army"
            queue = [(None, 0, root_echelon)]
            while queue and len(rows) < n:
                parent, depth, echelon = queue.pop(0)
                pk = len(rows) + 1
                number = counters[code, echelon] = counters.get((code, echelon), 0) + 1
                if echelon == "contingent":
                    name = f"{COUNTRY_NAMES[code]} Expeditionary Contingent {number}"
                elif echelon == "army":
                    name = f"{ordinal(number)} Combined Arms Army ({code})"
                else:
                    kinds = UNIT_KINDS[echelon]
                    name = f"{ordinal(number)} {kinds[rng.integers(len(kinds))]} ({code})"
                strength = ECHELON_STRENGTH[echelon]
                best = int(strength * rng.uniform(0.5, 1.2))
                has_range = rng.random() < 0.6
                low, high = (int(best * 0.8), int(best * 1.25)) if has_range else (None, None)
                if rng.random() < 0.2:
                    best = None
                aliases = [f"{ordinal(number)} {echelon}", f"Unit {pk}"] if rng.random() < 0.3 else []
                status = ["active", "deployed", "withdrawn", "destroyed", "disbanded", "unknown"][
                    rng.choice(6, p=[0.45, 0.3, 0.08, 0.04, 0.03, 0.1])
                ]
                ts = self.timestamp(int(rng.integers(0, 365)), int(rng.integers(0, 1440)))
                rows.append(
                    (pk, ts, ts, name, json.dumps(aliases), code, echelon, BRANCHES[rng.integers(len(BRANCHES))],
                     parent, low, best, high, status, f"{name}, a {echelon} of the forces of {COUNTRY_NAMES[code]}.")
                )  # fmt: skip
                self.unit_country.append(self.country_codes.index(code))
                self.unit_echelon.append(echelon)
                self.unit_parent.append(parent)
                if depth < 4:
                    children = int(rng.integers(2, 5)) if depth < 3 else int(rng.integers(2, 4))
                    queue.extend((pk, depth + 1, ECHELONS[depth + 1]) for _ in range(children))
        yield rows
        self.unit_country = np.array(self.unit_country)
        self.units_by_country = {
            c: np.flatnonzero(self.unit_country == c) + 1 for c in range(len(COUNTRIES))
        }  # fmt: skip
        self.unit_losses = np.array([ECHELON_LOSSES[e] for e in self.unit_echelon], dtype=float)

    UNIT_COLUMNS = ["id", "created_at", "updated_at", "name", "aliases", "country", "echelon", "branch", "parent_id",
                    "strength_low", "strength_best", "strength_high", "status", "description"]  # fmt: skip

    # Events --------------------------------------------------------------------------------

    def event_days(self, rng, size):
        """Start and end day indexes, precision and wording."""
        np, days = self.np, self.days
        years = list(YEAR_WEIGHTS)
        year = np.array(years)[weighted(rng, np, YEAR_WEIGHTS, size)]
        start_of_year = np.array([days.index[date(y, 1, 1)] for y in years])[year - years[0]]
        length = np.where((year % 4 == 0), 366, 365)
        day = start_of_year + (rng.random(size) * length).astype(np.int32)
        precision = weighted(rng, np, DATE_PRECISIONS, size)
        spread = rng.integers(1, 3, size)
        multi_day = rng.random(size) < 0.15
        start = day.copy()
        end = day.copy()
        # day: mostly one day, sometimes two or three
        end = np.where((precision == 0) & multi_day, day + spread, end)
        end = np.where(precision == 1, day + 6, end)
        start = np.where(precision == 2, days.month_start[day], start)
        end = np.where(precision == 2, days.month_end[day], end)
        start = np.where(precision == 3, days.year_start[day], start)
        end = np.where(precision == 3, days.year_end[day], end)
        start = np.where(precision == 4, day - 5, start)
        end = np.where(precision == 4, day + 5, end)
        end = np.minimum(end, days.count - 1)
        return day, start, end, precision

    def date_text(self, precision, day, start, end):
        days = self.days
        if precision == 0:
            return days.day_text[start] if start == end else f"{days.day_text[start]} to {days.day_text[end]}"
        if precision == 1:
            return f"week of {days.day_text[start]}"
        if precision == 2:
            return days.month_text[day]
        if precision == 3:
            return days.year_text[day]
        return days.part_text[day]

    def events(self):
        np, rng, n = self.np, self.rng("events"), self.n_events
        precisions = list(DATE_PRECISIONS)
        types = list(EVENT_TYPE_WEIGHTS)
        location_precisions = list(LOCATION_PRECISIONS) + ["", "country"]
        last = self.days.count - 1
        self.event_country = np.empty(n, dtype=np.int8)
        self.event_end = np.empty(n, dtype=np.int32)
        for offset in range(0, n, CHUNK):
            size = min(CHUNK, n - offset)
            country = rng.choice(len(COUNTRIES), size=size, p=self.country_p)
            day, start, end, precision = self.event_days(rng, size)
            self.event_country[offset : offset + size] = country
            self.event_end[offset : offset + size] = end
            kind = weighted(rng, np, EVENT_TYPE_WEIGHTS, size).tolist()
            phrase = rng.integers(0, 6, size).tolist()
            place = self.place_offset[country] + (rng.random(size) * self.place_count[country]).astype(np.int64)
            has_coordinates = rng.random(size) < 0.7
            jitter = rng.normal(0, 0.25, (size, 2))
            box = self.box[country]
            latitude = np.round(np.clip(self.place_lat[place] + jitter[:, 0], box[:, 1], box[:, 3]), 5)
            longitude = np.round(np.clip(self.place_lon[place] + jitter[:, 1], box[:, 0], box[:, 2]), 5)
            location = weighted(rng, np, LOCATION_PRECISIONS, size)
            # Without coordinates: no precision, or "country" (index 4 and 5 of location_precisions).
            location = np.where(has_coordinates, location, np.where(location < 2, 4, 5)).tolist()
            has_personnel = (rng.random(size) < 0.25).tolist()
            personnel = np.exp(rng.normal(5.5, 1.3, size)).astype(np.int64) + 1
            personnel_low = (personnel * rng.uniform(0.6, 0.95, size)).astype(np.int64).tolist()
            personnel_high = ((personnel * rng.uniform(1.05, 1.6, size)).astype(np.int64) + 1).tolist()
            personnel = personnel.tolist()
            personnel_shape = rng.integers(0, 4, size).tolist()
            expected = (rng.random(size) < 0.01).tolist()
            external = (rng.random(size) < 0.05).tolist()
            words = self.words(rng, size, 5)
            created = np.minimum(end + rng.integers(0, 15, size), last)
            edited = rng.random(size) < 0.1
            updated = np.where(edited, np.minimum(created + 30, last), created).tolist()
            created = created.tolist()
            minute = rng.integers(0, 1440, size).tolist()
            latitude = np.where(has_coordinates, latitude, np.nan).tolist()
            longitude = longitude.tolist()
            has_coordinates = has_coordinates.tolist()
            day, start, end, precision, country, place = (
                a.tolist() for a in (day, start, end, precision, country, place)
            )
            iso, times, suffix = self.days.iso, self.times, self.ts_suffix
            rows = []
            for i in range(size):
                pk = offset + i + 1
                place_name, admin1 = self.place_name[place[i]], self.place_admin1[place[i]]
                type_ = types[kind[i]]
                phrases = EVENT_PHRASES[type_]
                w = words[i]
                title = f"{phrases[phrase[i] % len(phrases)]} near {place_name}: {w[0]} and {w[1]}"
                description = (
                    f"Sources report {w[2]} and {w[3]} around {place_name} ({admin1}), "
                    f"with {w[4]} activity along the {w[0]} axis."
                )
                if has_coordinates[i]:
                    lat, lon = latitude[i], longitude[i]
                else:
                    lat = lon = None
                if has_personnel[i]:
                    shape = personnel_shape[i]  # full range, best only, "over N", or low and high
                    low = personnel_low[i] if shape in (0, 2, 3) else None
                    best = personnel[i] if shape in (0, 1) else None
                    high = personnel_high[i] if shape in (0, 3) else None
                else:
                    low = best = high = None
                time_ = times[minute[i]]
                rows.append(
                    (pk, f"{iso[created[i]]} {time_}{suffix}", f"{iso[updated[i]]} {time_}{suffix}", title,
                     description, type_, iso[start[i]], iso[end[i]], precisions[precision[i]],
                     self.date_text(precision[i], day[i], start[i], end[i]), expected[i], place_name, admin1,
                     self.country_codes[country[i]], lat, lon, location_precisions[location[i]], low, best, high,
                     f"synthetic:{pk}" if external[i] else "")
                )  # fmt: skip
            yield rows

    EVENT_COLUMNS = ["id", "created_at", "updated_at", "title", "description", "type", "start_date", "end_date",
                     "date_precision", "date_text", "expected", "place_name", "admin1", "country", "latitude",
                     "longitude", "location_precision", "personnel_low", "personnel_best", "personnel_high",
                     "external_id"]  # fmt: skip

    def event_units(self):
        np, rng, n = self.np, self.rng("event_units"), self.n_events
        roles = list(UNIT_ROLES)
        pools = {}
        for c, (code, *_rest) in enumerate(COUNTRIES):
            members = [self.units_by_country.get(c, np.empty(0, dtype=np.int64))]
            members += [self.units_by_country[self.country_codes.index(a)] for a in ADVERSARIES.get(code, [])]
            pool = np.concatenate(members)
            pools[c] = pool if len(pool) else np.arange(1, self.n_units + 1)
        pk = 0
        for offset in range(0, n, CHUNK):
            size = min(CHUNK, n - offset)
            count = rng.choice(4, size=size, p=[0.25, 0.4, 0.25, 0.1]).tolist()
            pick = rng.random((size, 3)).tolist()
            role = weighted(rng, np, UNIT_ROLES, (size, 3)).tolist()
            country = self.event_country[offset : offset + size].tolist()
            end = self.event_end[offset : offset + size].tolist()
            minute = rng.integers(0, 1440, size).tolist()
            rows = []
            for i in range(size):
                if not count[i]:
                    continue
                pool = pools[country[i]]
                chosen = {int(pool[int(pick[i][j] * len(pool))]) for j in range(count[i])}
                ts = self.timestamp(min(end[i] + 1, self.days.count - 1), minute[i])
                for j, unit in enumerate(sorted(chosen)):
                    pk += 1
                    rows.append((pk, ts, ts, offset + i + 1, unit, roles[role[i][j]]))
            yield rows

    EVENT_UNIT_COLUMNS = ["id", "created_at", "updated_at", "event_id", "unit_id", "role"]

    # Casualty reports ----------------------------------------------------------------------

    def reports(self):
        np, rng, n = self.np, self.rng("reports"), self.n_reports
        days = self.days
        categories, kinds, credibilities = list(CATEGORIES), list(FIGURE_KINDS), list(CREDIBILITY)
        precisions = list(DATE_PRECISIONS)
        events_by_country = {c: np.flatnonzero(self.event_country == c) + 1 for c in range(len(COUNTRIES))}
        self.report_day = np.empty(n, dtype=np.int32)
        unit_names = self.unit_names
        first_event_day = days.index[EVENTS_FROM]
        last_event_day = days.index[EVENTS_TO]
        for offset in range(0, n, CHUNK):
            size = min(CHUNK, n - offset)
            has_unit = rng.random(size) < 0.85
            unit = rng.integers(1, self.n_units + 1, size)
            unit_country = self.unit_country[unit - 1]
            random_country = rng.choice(len(COUNTRIES), size=size, p=self.country_p)
            country = np.where(has_unit, unit_country, random_country)
            has_event = rng.random(size) < 0.6
            event_pick = rng.random(size)
            scale = np.where(has_unit, self.unit_losses[unit - 1], 300.0)
            best = (scale * np.exp(rng.normal(0, 1.0, size))).astype(np.int64) + 1
            low = (best * rng.uniform(0.5, 0.95, size)).astype(np.int64)
            high = (best * rng.uniform(1.05, 1.8, size)).astype(np.int64) + 1
            shape = rng.choice(5, size=size, p=[0.6, 0.15, 0.1, 0.05, 0.1])
            kind = weighted(rng, np, FIGURE_KINDS, size)
            category = weighted(rng, np, CATEGORIES, size).tolist()
            credibility = weighted(rng, np, CREDIBILITY, size).tolist()
            precision = weighted(rng, np, DATE_PRECISIONS, size).tolist()
            random_day = rng.integers(first_event_day, last_event_day + 1, size)
            report_lag = rng.integers(0, 31, size)
            undated = rng.random(size) < 0.05
            horizon_lag = rng.integers(30, 366, size).tolist()
            has_period = (rng.random(size) < 0.2).tolist()
            period_lag = rng.integers(30, 366, size).tolist()
            words = self.words(rng, size, 3)
            minute = rng.integers(0, 1440, size).tolist()
            external = (rng.random(size) < 0.05).tolist()
            event = [0] * size
            day = random_day.copy()
            country_list = country.tolist()
            for i in np.flatnonzero(has_event).tolist():
                pool = events_by_country[country_list[i]]
                if len(pool):
                    e = int(pool[int(event_pick[i] * len(pool))])
                    event[i] = e
                    day[i] = self.event_end[e - 1]
            day = np.minimum(day + report_lag, days.count - 1)
            self.report_day[offset : offset + size] = day
            has_unit, unit, best, low, high, shape, kind = (
                a.tolist() for a in (has_unit, unit, best, low, high, shape, kind)
            )
            day, undated = day.tolist(), undated.tolist()
            rows = []
            for i in range(size):
                pk = offset + i + 1
                k = kinds[kind[i]]
                s = shape[i]  # full range, best only, "over N", low and high, or no figure (unit destroyed)
                u = unit[i] if has_unit[i] else None
                if s == 4 and u is None:
                    s = 1
                lo = low[i] if s in (0, 2, 3) else None
                be = best[i] if s in (0, 1) else None
                hi = high[i] if s in (0, 3) else None
                if k == "denial" and s in (0, 1):
                    lo, be, hi = None, 0, None
                d = day[i]
                dated = not (undated[i] and k != "projection")
                as_of = days.iso[d] if dated else None
                horizon = days.iso[min(d + horizon_lag[i], days.count - 1)] if k == "projection" else None
                period_start = days.iso[max(d - period_lag[i], 0)] if dated and has_period[i] else None
                p = precision[i]
                text_day = days.day_text[d] if p == 0 else days.part_text[d] if p == 4 else days.month_text[d]
                date_text = (f"as of {text_day}" if dated else "") + (
                    f", by {days.month_text[min(d + horizon_lag[i], days.count - 1)]}" if horizon else ""
                )
                e = event[i] or None
                w = words[i]
                who = unit_names[u - 1] if u else "forces"
                known = be if be is not None else lo if lo is not None else hi
                figure = "no" if be == 0 else "unknown" if known is None else f"{known:,}"
                description = f"{figure} {categories[category[i]]} among {who}; {w[0]}, {w[1]} and {w[2]} cited."
                ts = self.timestamp(d, minute[i])
                rows.append(
                    (pk, ts, ts, self.country_codes[country_list[i]], u, e, categories[category[i]], lo, be, hi, k,
                     as_of, period_start, horizon, precisions[p], date_text, credibilities[credibility[i]],
                     description, f"synthetic:{pk}" if external[i] else "", "", "")
                )  # fmt: skip
            yield rows

    REPORT_COLUMNS = ["id", "created_at", "updated_at", "country", "unit_id", "event_id", "category", "low", "best",
                      "high", "kind", "as_of_date", "period_start", "horizon_date", "date_precision", "date_text",
                      "credibility", "description", "external_id", "equipment_type", "equipment_name"]  # fmt: skip

    # Citations and links -------------------------------------------------------------------

    def attribution(self, pk, source, published, accessed, words, archived):
        """(url, title, published_date, accessed_date, archive_url, quote) of one citation or link."""
        days = self.days
        url = f"https://{self.source_slugs[source - 1]}.example.org/{days.path[published]}/{pk}"
        return (
            url,
            f"{words[0].capitalize()} {words[1]} and {words[2]}: report {pk}",
            days.iso[published],
            days.iso[accessed],
            f"https://web.archive.org/web/{days.compact[published]}/{url}" if archived else "",
            f"We can say that {words[3]}, {words[4]} and {words[5]} were involved, {words[6]} and {words[7]}.",
        )

    def citations(self):
        np, rng = self.np, self.rng("citations")
        first_roles = ["claimed_by", "reported_by"]
        later_roles = ["reported_by", "confirmed_by", "disputed_by"]
        last = self.days.count - 1
        iso, times, suffix = self.days.iso, self.times, self.ts_suffix
        pk = 0
        for subject, n, subject_days in (("event", self.n_events, self.event_end),
                                         ("report", self.n_reports, self.report_day)):  # fmt: skip
            for offset in range(0, n, CHUNK):
                size = min(CHUNK, n - offset)
                count = rng.choice([1, 2, 3], size=size, p=[0.5, 0.35, 0.15]).tolist()
                source = (rng.choice(self.n_sources, size=(size, 3), p=self.source_p) + 1).tolist()
                first_role = rng.choice(2, size=size, p=[0.4, 0.6]).tolist()
                later_role = rng.choice(3, size=(size, 2), p=[0.45, 0.35, 0.2]).tolist()
                lag = rng.integers(0, 15, (size, 3))
                day = subject_days[offset : offset + size][:, None]
                published = np.minimum(day + lag, last)
                accessed = np.minimum(published + lag + 1, last).tolist()
                recorded = np.minimum(published + 1, last).tolist()
                published = published.tolist()
                undated = (rng.random((size, 3)) < 0.05).tolist()
                archived = (rng.random((size, 3)) < 0.3).tolist()
                words = self.words(rng, size, 8)
                minute = rng.integers(0, 1440, size).tolist()
                rows = []
                for i in range(size):
                    claim = offset + i + 1
                    event, report = (claim, None) if subject == "event" else (None, claim)
                    seen = set()
                    for j in range(count[i]):
                        src = source[i][j]
                        role = first_roles[first_role[i]] if j == 0 else later_roles[later_role[i][j - 1]]
                        if (src, role) in seen:
                            continue
                        seen.add((src, role))
                        pk += 1
                        url, title, published_date, accessed_date, archive, quote = self.attribution(
                            pk, src, published[i][j], accessed[i][j], words[i], archived[i][j]
                        )
                        ts = f"{iso[recorded[i][j]]} {times[minute[i]]}{suffix}"
                        rows.append(
                            (pk, ts, ts, src, url, title, None if undated[i][j] else published_date, accessed_date,
                             archive, quote, event, report, role, "")
                        )  # fmt: skip
                yield rows

    CITATION_COLUMNS = ["id", "created_at", "updated_at", "source_id", "url", "title", "published_date",
                        "accessed_date", "archive_url", "quote", "event_id", "casualty_report_id", "role",
                        "evidence_url"]  # fmt: skip

    def links(self, name, n_claims, claim_days):
        np, rng = self.np, self.rng(name)
        relations = list(LINK_RELATIONS)
        n = int(n_claims * self.link_share) if n_claims > 1 else 0
        to_claim = rng.integers(1, max(n_claims, 2), n)
        from_claim = np.minimum(to_claim + rng.integers(1, 1000, n), n_claims).tolist()
        to_claim = to_claim.tolist()
        relation = weighted(rng, np, LINK_RELATIONS, n).tolist()
        source = (rng.choice(self.n_sources, size=n, p=self.source_p) + 1).tolist()
        lag = rng.integers(1, 60, n).tolist()
        words = self.words(rng, n, 8)
        seen = set()
        rows = []
        pk = 0
        for i in range(n):
            key = (from_claim[i], to_claim[i], relation[i])
            if from_claim[i] == to_claim[i] or key in seen:
                continue
            seen.add(key)
            pk += 1
            day = int(max(claim_days[from_claim[i] - 1], claim_days[to_claim[i] - 1]))
            published = min(day + lag[i], self.days.count - 1)
            accessed = min(published + 1, self.days.count - 1)
            url, title, published, accessed, archive, quote = self.attribution(
                pk, source[i], published, accessed, words[i], False
            )
            ts = self.timestamp(min(day + lag[i], self.days.count - 1), 0)
            rows.append(
                (pk, ts, ts, source[i], url, title, published, accessed, archive, quote, relations[relation[i]],
                 from_claim[i], to_claim[i])
            )  # fmt: skip
        yield rows

    LINK_COLUMNS = ["id", "created_at", "updated_at", "source_id", "url", "title", "published_date", "accessed_date",
                    "archive_url", "quote", "relation", "from_claim_id", "to_claim_id"]  # fmt: skip

    def plan(self):
        """(model, columns, chunks) in load order: parents before children."""

        def unit_rows():
            for rows in self.units():
                self.unit_names = [row[3] for row in rows]
                yield rows

        return [
            (Source, self.SOURCE_COLUMNS, self.sources),
            (Unit, self.UNIT_COLUMNS, unit_rows),
            (Event, self.EVENT_COLUMNS, self.events),
            (EventUnit, self.EVENT_UNIT_COLUMNS, self.event_units),
            (CasualtyReport, self.REPORT_COLUMNS, self.reports),
            (Citation, self.CITATION_COLUMNS, self.citations),
            (EventLink, self.LINK_COLUMNS, lambda: self.links("event_links", self.n_events, self.event_end)),
            (
                CasualtyReportLink,
                self.LINK_COLUMNS,
                lambda: self.links("report_links", self.n_reports, self.report_day),
            ),
        ]


# Writers -------------------------------------------------------------------------------------


class PostgresLoader:
    """COPY into tables whose secondary indexes and foreign keys are dropped until the load is done."""

    def __init__(self, tables):
        self.tables = tables
        self.raw = connection.connection
        self.saved_constraints = []
        self.saved_indexes = []

    def prepare(self):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
            cursor.execute("SET LOCAL synchronous_commit = off")
            for table in self.tables:
                cursor.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY contype DESC, conname",
                    [table],
                )
                for name, definition in cursor.fetchall():
                    self.saved_constraints.append((table, name, definition))
                cursor.execute(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s "
                    "AND i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                    "WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)",
                    [table],
                )
                self.saved_indexes += [(table, *index) for index in cursor.fetchall()]
            for table, name, _definition in self.saved_constraints:
                cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            for _table, name, _definition in self.saved_indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            # The search triggers would compute each record's document again for every citation
            # loaded, and the count triggers count each one: the documents are computed and the
            # citations counted once, in finish().
            for table in self.tables:
                cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')

    def load(self, table, columns, chunks):
        count = 0
        statement = f'COPY "{table}" ({", ".join(columns)}) FROM STDIN'
        with self.raw.cursor() as cursor, cursor.copy(statement) as copy:
            for rows in chunks:
                for row in rows:
                    copy.write_row(row)
                count += len(rows)
        return count

    def finish(self):
        with connection.cursor() as cursor:
            # The citations' indexes first: computing the search documents reads each record's
            # citations by them. The other tables' indexes after, so that writing the documents
            # need not update them.
            cited = [index for index in self.saved_indexes if index[0] == Citation._meta.db_table]
            others = [index for index in self.saved_indexes if index[0] != Citation._meta.db_table]
            for _table, _name, definition in cited:
                cursor.execute(definition)
            for table in self.tables:
                cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
            # Each record's search document (clearing it makes the trigger compute it, as
            # search.rebuild_sql does) and its day of first citation, in one pass over each table.
            for statement in known.rebuild_sql("postgresql", also="search_vector = NULL") + counts.rebuild_sql(
                "postgresql"
            ):
                cursor.execute(statement)
            for _table, _name, definition in others:
                cursor.execute(definition)
            # Unique constraints first, then the foreign keys (each validated with one join).
            for table, name, definition in sorted(self.saved_constraints, key=lambda c: "FOREIGN" in c[2]):
                cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')

    def analyze(self):
        # VACUUM as well as ANALYZE: it sets the visibility map, without which index-only scans
        # (counts, id pages) would visit the heap until autovacuum comes round. It cannot run
        # in a transaction, so load() calls this after committing.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"  # e.g. inside a test
        with connection.cursor() as cursor:
            for table in self.tables:
                cursor.execute(f'{command} "{table}"')


class SQLiteLoader:
    """executemany in the surrounding transaction, with the secondary indexes rebuilt at the end."""

    def __init__(self, tables):
        self.tables = tables
        self.raw = connection.connection
        self.saved_indexes = []

    def prepare(self):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -512000")  # 512 MB
            for table in self.tables:
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                    [table],
                )
                self.saved_indexes += cursor.fetchall()
            for name, _sql in self.saved_indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            # The search triggers would compute each record's document again for every citation
            # loaded (SQLite cannot disable triggers): dropped, and the documents computed once
            # in finish().
            placeholders = ", ".join("%s" for _ in self.tables)
            cursor.execute(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({placeholders})",
                self.tables,
            )
            self.saved_triggers = cursor.fetchall()
            for name, _sql in self.saved_triggers:
                cursor.execute(f'DROP TRIGGER "{name}"')

    def load(self, table, columns, chunks):
        count = 0
        statement = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))})'
        for rows in chunks:
            self.raw.executemany(statement, rows)
            count += len(rows)
        return count

    def finish(self):
        with connection.cursor() as cursor:
            for _name, sql in self.saved_indexes:
                cursor.execute(sql)
            for statement in search.rebuild_sql("sqlite") + counts.rebuild_sql("sqlite") + known.rebuild_sql("sqlite"):
                cursor.execute(statement)
            for _name, sql in self.saved_triggers:
                cursor.execute(sql)

    def analyze(self):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA analysis_limit = 1000")
            cursor.execute("ANALYZE")


class Command(BaseCommand):
    help = (
        "Fill the database with a reproducible synthetic dataset for benchmarks (default: 1M events, 3M casualty "
        "reports, 5,000 units, 2,000 sources, citations on everything). Bypasses the ORM (COPY on PostgreSQL), so "
        "the generated rows have no history entries. Refuses a database that already holds data unless --force, "
        "which empties the events tables first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=DEFAULTS["events"])
        parser.add_argument("--reports", type=int, default=DEFAULTS["reports"])
        parser.add_argument("--units", type=int, default=DEFAULTS["units"])
        parser.add_argument("--sources", type=int, default=DEFAULTS["sources"])
        parser.add_argument("--seed", type=int, default=1, help="The same seed and sizes give the same data.")
        parser.add_argument(
            "--links", type=float, default=0.01, help="Links between claims, as a share of the claims (0.01)."
        )
        parser.add_argument("--force", action="store_true", help="Empty the events tables (and their history) first.")
        parser.add_argument("--no-analyze", action="store_true", help="Skip ANALYZE at the end.")

    def handle(self, *args, events, reports, units, sources, seed, links, force, no_analyze, verbosity, **options):
        try:
            import numpy as np
        except ImportError:
            raise CommandError("generate_data needs numpy: pip install -r requirements-dev.txt") from None
        if min(units, sources) < 1 or min(events, reports) < 0:
            raise CommandError("--units and --sources must be at least 1; --events and --reports not negative.")
        if connection.vendor not in {"postgresql", "sqlite"}:
            raise CommandError(f"generate_data supports PostgreSQL and SQLite, not {connection.vendor}.")
        self.verbosity = verbosity
        generator = Generator(np, seed=seed, sources=sources, units=units, events=events, reports=reports, links=links)
        plan = generator.plan()
        models = [model for model, _columns, _chunks in plan]
        tables = [model._meta.db_table for model in models]
        started = time.monotonic()
        # Millions of short-lived tuples and no reference cycles: the cyclic collector only costs time here.
        collecting = gc.isenabled()
        gc.disable()
        try:
            total = self.load(plan, models, tables, force=force, analyze=not no_analyze)
        finally:
            if collecting:
                gc.enable()
        elapsed = time.monotonic() - started
        self.say(
            f"generated {total:,} rows in {elapsed:.1f} s ({total / max(elapsed, 1e-9):,.0f} rows/s) "
            f"on {connection.vendor}, seed {seed}",
            level=1,
        )

    def load(self, plan, models, tables, *, force, analyze):
        with transaction.atomic():
            self.check_empty(force)
            loader = (PostgresLoader if connection.vendor == "postgresql" else SQLiteLoader)(tables)
            loader.prepare()
            total = 0
            for model, columns, chunks in plan:
                begun = time.monotonic()
                count = loader.load(model._meta.db_table, columns, chunks())
                total += count
                self.progress(model._meta.db_table, count, time.monotonic() - begun)
            begun = time.monotonic()
            loader.finish()
            self.say(f"indexes and constraints rebuilt in {time.monotonic() - begun:.1f} s")
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(statement)
            if analyze and connection.vendor != "postgresql":
                self.analyze(loader)
        if analyze and connection.vendor == "postgresql":
            self.analyze(loader)
        return total

    def analyze(self, loader):
        begun = time.monotonic()
        loader.analyze()
        self.say(f"analysed in {time.monotonic() - begun:.1f} s")

    def say(self, message, level=1):
        if self.verbosity >= level:
            self.stdout.write(message)

    def progress(self, table, count, seconds):
        self.say(f"{table:<30} {count:>11,} rows in {seconds:7.1f} s ({count / max(seconds, 1e-9):>10,.0f} rows/s)")

    def check_empty(self, force):
        config = apps.get_app_config("events")
        models = list(config.get_models())
        if force:
            tables = [model._meta.db_table for model in models]
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute(f"TRUNCATE {', '.join(f'{chr(34)}{t}{chr(34)}' for t in tables)} RESTART IDENTITY")
                else:
                    for table in tables:
                        cursor.execute(f'DELETE FROM "{table}"')
                    cursor.execute(
                        f"DELETE FROM sqlite_sequence WHERE name IN ({', '.join('%s' for _ in tables)})", tables
                    )
            return
        held = {
            model._meta.verbose_name_plural: model.objects.count()
            for model in (Source, Unit, Event, CasualtyReport)
            if model.objects.exists()
        }
        if held:
            listing = ", ".join(f"{count:,} {name}" for name, count in held.items())
            raise CommandError(
                f"The database already holds data ({listing}). Use --force to empty the events tables "
                "(and their history) first, or point DATABASE_URL at another database."
            )
