from http import HTTPStatus

from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback


def exception_handler(exc, context):
    """DRF's handler, plus clean 409s for what the database refuses.

    Validation catches bad input first; these cover what only the database can see, such
    as deleting a source that citations still point to, or a race between two writers.
    """
    if isinstance(exc, (ProtectedError, RestrictedError)):
        blocking = sorted(
            {
                f"{obj._meta.verbose_name} {obj.pk}"
                for obj in list(getattr(exc, "protected_objects", None) or exc.restricted_objects)[:20]
            }
        )
        set_rollback()
        return Response(
            {"detail": "This record is still referenced and cannot be deleted.", "referenced_by": blocking},
            status=HTTPStatus.CONFLICT,
        )
    if isinstance(exc, IntegrityError):
        set_rollback()
        return Response(
            {"detail": "The change conflicts with data already stored; nothing was saved.", "error": str(exc).strip()},
            status=HTTPStatus.CONFLICT,
        )
    return drf_exception_handler(exc, context)
