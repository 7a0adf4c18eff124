"""Edit history and deletions, read from django-simple-history's tables."""

import datetime

from django.db.models import CharField, Exists, IntegerField, Max, OuterRef, Q, Value

from .models import (
    CasualtyReport,
    CasualtyReportLink,
    Citation,
    Event,
    EventLink,
    EventUnit,
    Source,
    Unit,
    UnitPosition,
)

ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
# Bookkeeping fields that every save moves; they are not an edit anyone made.
UNINTERESTING_FIELDS = {"created_at", "updated_at"}

# The records shown inside another record, by the field that points at it.
PARTS = {
    Event: [(Citation, "event"), (EventUnit, "event")],
    CasualtyReport: [(Citation, "casualty_report")],
}

# API list name of each resource whose deletions a mirror needs to apply.
RESOURCES = {
    "sources": Source,
    "units": Unit,
    "events": Event,
    "casualty-reports": CasualtyReport,
    "casualty-report-links": CasualtyReportLink,
    "event-links": EventLink,
    "unit-positions": UnitPosition,
}


def _value(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (int, float, bool, list, dict)):
        return value
    return str(value)


def _entries(records, label):
    """History entries, newest first, each with the fields that changed from the version before."""
    entries = []
    previous_by_id = {}
    for record in sorted(records, key=lambda r: (r.history_date, r.history_id)):
        previous = previous_by_id.get(record.id)
        if record.history_type == "~" and previous is not None:
            delta = record.diff_against(previous)
            changes = [
                {"field": change.field, "old": _value(change.old), "new": _value(change.new)}
                for change in delta.changes
                if change.field not in UNINTERESTING_FIELDS
            ]
        elif record.history_type == "+":
            changes = [
                {"field": field.attname, "old": None, "new": _value(getattr(record, field.attname))}
                for field in record.instance_type._meta.concrete_fields
                if field.attname not in UNINTERESTING_FIELDS and field.attname != "id"
            ]
        else:
            changes = []
        previous_by_id[record.id] = record
        entries.append(
            {
                "history_id": record.history_id,
                "date": record.history_date,
                "user": record.history_user.get_username() if record.history_user else None,
                "action": ACTIONS[record.history_type],
                "record": label,
                "record_id": record.id,
                "changes": changes,
            }
        )
    return entries


def record_history(model, pk: int) -> list[dict] | None:
    """Every version of a record and of the citations and units shown inside it, newest first.

    None when the record never existed. A deleted record keeps its history.
    """
    own = list(model.history.filter(id=pk).select_related("history_user"))
    if not own:
        return None
    entries = _entries(own, model._meta.model_name)
    for part_model, field in PARTS.get(model, []):
        records = part_model.history.filter(**{f"{field}_id": pk}).select_related("history_user")
        entries += _entries(records, part_model._meta.model_name)
    return sorted(entries, key=lambda entry: (entry["date"], entry["history_id"]), reverse=True)


def deletions(*, since: datetime.datetime | None = None, resources=None, after=None):
    """Records deleted (at or after ``since``) and not restored, across resources, oldest first:
    in (time, list, id) order, the lists in the order of ``RESOURCES``. ``after`` is such a key
    (time, list name, id); only the deletions after it are returned."""
    querysets = []
    for rank, (name, model) in enumerate(RESOURCES.items()):
        if resources and name not in resources:
            continue
        deleted = model.history.filter(history_type="-")
        if since is not None:
            deleted = deleted.filter(history_date__gte=since)
        deleted = (
            deleted.filter(~Exists(model.objects.filter(pk=OuterRef("id"))))
            .order_by()
            .values("id")
            .annotate(
                deleted_at=Max("history_date"),
                resource=Value(name, output_field=CharField()),
                resource_rank=Value(rank, output_field=IntegerField()),
            )
            .values("resource", "id", "deleted_at", "resource_rank")
        )
        if after is not None:
            deleted = deleted.filter(_after(after, name, rank))
        querysets.append(deleted)
    if not querysets:
        return []
    first, *rest = querysets
    return first.union(*rest, all=True).order_by("deleted_at", "resource_rank", "id")


def _after(key, name, rank):
    """The condition, on one list's deletions, of coming after ``key`` in the feed's order."""
    deleted_at, after_name, after_id = key
    after_rank = list(RESOURCES).index(after_name) if after_name in RESOURCES else -1
    if rank > after_rank:
        return Q(deleted_at__gte=deleted_at)
    if rank < after_rank:
        return Q(deleted_at__gt=deleted_at)
    return Q(deleted_at__gt=deleted_at) | Q(deleted_at=deleted_at, id__gt=after_id)
