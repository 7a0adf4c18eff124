"""The conventions of the CSV exports, shared by the Python writer (``exports.Columns``) and COPY (``copy``).

- Times are in UTC with microseconds, one width for every value: ``2025-02-03T00:00:00.000000Z``
  (the JSON drops zero microseconds; a data tool wants one format to parse).
- An inline list is two columns: ``name (role)`` items, and beside them the ids of the same
  items' sources or units, both joined by ``LIST_SEPARATOR``. In a name, ``;`` and ``%`` are
  percent-encoded (``%3B``, ``%25``), so splitting on ``;`` never cuts a name and
  ``urllib.parse.unquote`` gives it back.
"""

import datetime

from rest_framework.serializers import ListSerializer

LIST_SEPARATOR = "; "
NAME_ESCAPES = (("%", "%25"), (";", "%3B"))  # "%" first, so that an escape is never escaped again
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def list_nested_field(field: ListSerializer) -> str | None:
    """The object each item of an inline list points at (``source``, ``unit``), if any."""
    return next((name for name in ("source", "unit") if name in field.child.fields), None)


def list_ids_column(name: str, field: ListSerializer) -> str:
    """``citations_source_ids``; ``units_ids`` where the list is named after what it holds."""
    nested = list_nested_field(field)
    return f"{name}_ids" if nested is None or name == f"{nested}s" else f"{name}_{nested}_ids"


def escape_name(name: str) -> str:
    for character, escaped in NAME_ESCAPES:
        name = name.replace(character, escaped)
    return name


def csv_timestamp(value: str) -> str:
    """DRF's ISO 8601 time (``...:05Z``, ``...:05.120000Z``, or with an offset) in ``TIMESTAMP_FORMAT``."""
    return datetime.datetime.fromisoformat(value).astimezone(datetime.UTC).strftime(TIMESTAMP_FORMAT)
