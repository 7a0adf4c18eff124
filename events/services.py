"""Write-side operations that span several records."""

import datetime

from django.apps import apps
from django.core.management import call_command
from django.db import transaction
from simple_history.exceptions import NotHistoricalModelError
from simple_history.utils import get_history_manager_for_model

from .history import PARTS
from .models import CasualtyReport, CasualtyReportLink, Event, EventLink

# Rows deleted by the same cascade carry history dates within this of the record's own.
CASCADE_WINDOW = datetime.timedelta(seconds=2)

LINKS = {Event: EventLink, CasualtyReport: CasualtyReportLink}


class RestoreError(Exception):
    pass


@transaction.atomic
def restore_deleted(model, pk: int, *, user=None):
    """Bring back a deleted record as it was, with the citations, units and links deleted with it.

    The record keeps its id, so links and mirrors that knew it still point at it. Parts whose
    other end no longer exists (a link to a claim deleted since) stay deleted.
    """
    if model.objects.filter(pk=pk).exists():
        raise RestoreError(f"{model._meta.verbose_name} {pk} exists; there is nothing to restore.")
    last = model.history.filter(id=pk).order_by("-history_date", "-history_id").first()
    if last is None or last.history_type != "-":
        raise RestoreError(f"No deleted {model._meta.verbose_name} {pk} is recorded.")
    if not _references_exist(last):
        raise RestoreError(f"{model._meta.verbose_name} {pk} refers to a record deleted since; restore that one first.")
    _restore_version(last, user)

    window = (last.history_date - CASCADE_WINDOW, last.history_date + CASCADE_WINDOW)
    parts = list(PARTS.get(model, []))
    if model in LINKS:
        parts += [(LINKS[model], "from_claim"), (LINKS[model], "to_claim")]
    for part_model, field in parts:
        deleted = part_model.history.filter(
            **{f"{field}_id": pk}, history_type="-", history_date__range=window
        ).order_by("id", "-history_date")
        seen = set()
        for version in deleted:
            if version.id in seen or part_model.objects.filter(pk=version.id).exists():
                continue
            seen.add(version.id)
            if _references_exist(version):
                _restore_version(version, user)
    return model.objects.get(pk=pk)


def _references_exist(version) -> bool:
    for field in version.instance_type._meta.concrete_fields:
        target = getattr(version, field.attname, None) if field.is_relation else None
        if target is not None and not field.related_model.objects.filter(pk=target).exists():
            return False
    return True


def _restore_version(version, user):
    instance = version.instance
    instance._history_user = user
    instance.save(force_insert=True)
    # auto_now_add stamped the insert with today; the record was created when it was.
    type(instance).objects.filter(pk=instance.pk).update(created_at=version.created_at)


SEED_CHANGE_REASON = "Loaded from the seed data"


def historied_models() -> list:
    """The app's models whose changes are recorded, in the app's order (parents before parts)."""
    found = []
    for model in apps.get_app_config("events").get_models():
        try:
            get_history_manager_for_model(model)
        except NotHistoricalModelError:  # the historical models themselves
            continue
        found.append(model)
    return found


@transaction.atomic
def load_seed(*, fixture: str = "seed") -> int | None:
    """Load ``fixture`` into an empty database, each record with its "created" history entry.

    Does nothing and returns None when the database holds, or has held, any record of the
    app: a curator's edits are never overwritten, and the ids of deleted records (which stay
    in history and can be restored) are never reused. Otherwise returns the number of
    records loaded.

    ``loaddata`` saves raw, which django-simple-history does not record; each record's entry
    is added with ``bulk_history_create``, dated when the fixture says the record was created.
    """
    models = historied_models()
    if any(model._default_manager.exists() or get_history_manager_for_model(model).exists() for model in models):
        return None
    call_command("loaddata", fixture, verbosity=0)
    loaded = 0
    for model in models:
        instances = list(model._default_manager.order_by("pk"))
        for instance in instances:
            instance._history_date = instance.created_at
        get_history_manager_for_model(model).bulk_history_create(instances, default_change_reason=SEED_CHANGE_REASON)
        loaded += len(instances)
    return loaded
