"""Small builders for test data; each takes overrides for any model field."""

import datetime
import itertools

from events import choices
from events.models import CasualtyReport, Citation, Event, EventUnit, Source, Unit, UnitPosition

_serial = itertools.count(1)


def make_source(**fields):
    n = next(_serial)
    defaults = {"name": f"Source {n}", "slug": f"source-{n}", "kind": choices.SourceKind.MEDIA, "country": "US"}
    return Source.objects.create(**{**defaults, **fields})


def make_unit(**fields):
    n = next(_serial)
    defaults = {"name": f"Unit {n}", "country": "KP", "echelon": choices.Echelon.BRIGADE}
    return Unit.objects.create(**{**defaults, **fields})


def make_event(*, units=(), citations=(), **fields):
    """``units`` is a list of units (role participant); ``citations`` a list of (source, role)."""
    n = next(_serial)
    start = fields.pop("start_date", datetime.date(2025, 1, 11))
    defaults = {
        "title": f"Event {n}",
        "type": choices.EventType.COMBAT,
        "start_date": start,
        "end_date": start,
        "country": "RU",
    }
    event = Event.objects.create(**{**defaults, **fields})
    for unit in units:
        EventUnit.objects.create(event=event, unit=unit)
    for source, role in citations:
        Citation.objects.create(event=event, source=source, role=role)
    return event


def make_report(*, citations=(), **fields):
    """``citations`` is a list of (source, role)."""
    defaults = {
        "country": "KP",
        "category": choices.CasualtyCategory.KILLED,
        "kind": choices.FigureKind.ESTIMATE,
        "best": 100,
    }
    report = CasualtyReport.objects.create(**{**defaults, **fields})
    for source, role in citations:
        Citation.objects.create(casualty_report=report, source=source, role=role)
    return report


def make_position(**fields):
    """A unit's position near Kursk; a unit is made unless one is given."""
    defaults = {"date": datetime.date(2025, 1, 11), "latitude": 51.7, "longitude": 36.2}
    if "unit" not in fields:
        fields["unit"] = make_unit()
    return UnitPosition.objects.create(**{**defaults, **fields})
