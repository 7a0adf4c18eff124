"""ETags on detail responses and ``If-Match`` on writes, so no curator overwrites another's edit."""

import hashlib
from http import HTTPStatus

from django.db import transaction
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response


class PreconditionFailed(APIException):
    status_code = HTTPStatus.PRECONDITION_FAILED
    default_detail = (
        "The record changed since you read it. Fetch it again, re-apply your change, and send its new ETag."
    )
    default_code = "precondition_failed"


def etag_for(obj) -> str:
    """A strong validator that changes whenever the record (or what it shows inline) changes."""
    return etag_of(type(obj), obj.pk, obj.updated_at)


def etag_of(model, pk, updated_at) -> str:
    version = f"{model._meta.label}:{pk}:{updated_at.isoformat()}"
    return '"' + hashlib.sha256(version.encode()).hexdigest()[:32] + '"'


def _listed(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


class ConditionalRequestMixin:
    """Adds ``ETag`` to detail reads and writes; honours ``If-None-Match`` and ``If-Match``.

    ``If-Match`` is optional, but when a client sends it the check and the write happen in one
    transaction with the row locked, so two writers holding the same ETag cannot both succeed.
    """

    def _with_etag(self, response, obj):
        if response.status_code < 300 and obj is not None and obj.pk is not None:
            response["ETag"] = etag_for(obj)
        return response

    def _locked_object(self):
        """The record, read after locking its row for the rest of the transaction.

        PostgreSQL holds a second writer at the lock until the first commits; it then reads
        the new version and its If-Match fails. SQLite runs one write at a time anyway.
        """
        model = self.get_queryset().model
        try:
            pk = int(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        except (TypeError, ValueError):
            pass  # get_object() answers 404
        else:
            list(model.objects.select_for_update().filter(pk=pk).values_list("pk"))
        return self.get_object()

    def _check_if_match(self, obj):
        header = self.request.headers.get("If-Match")
        if header is None:
            return
        tags = _listed(header)
        if "*" not in tags and etag_for(obj) not in tags:
            raise PreconditionFailed()

    def retrieve(self, request, *args, **kwargs):
        """The record as its list shows it (read by ``records()``), with its ETag.

        With ``If-None-Match``, its version is read first, so a match costs one indexed query.
        Without, a plain detail reads the record and its version in one query, where it can
        (``versioned_record``).
        """
        queryset = self.filter_queryset(self.get_queryset())
        try:
            pk = int(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        except (TypeError, ValueError):
            raise NotFound() from None
        if "If-None-Match" not in request.headers and self.unfiltered():
            found = self.versioned_record(pk)
            if found is None:
                raise NotFound()
            if found is not NotImplemented:
                updated_at, data = found
                return Response(data, headers={"ETag": etag_of(queryset.model, pk, updated_at)})
        updated_at = queryset.filter(pk=pk).values_list("updated_at", flat=True).first()
        if updated_at is None:
            raise NotFound()
        etag = etag_of(queryset.model, pk, updated_at)
        if self.unmodified(etag):
            return Response(status=HTTPStatus.NOT_MODIFIED, headers={"ETag": etag})
        rows = self.records([pk])
        if not rows:  # deleted in between
            raise NotFound()
        return Response(rows[0], headers={"ETag": etag})

    def unfiltered(self):
        """Whether the request reads the record alone, with nothing to filter (views say)."""
        return False

    def versioned_record(self, pk):
        """(updated_at, representation) of the record read at once, None when there is none,
        NotImplemented where the view cannot (it then reads the version first)."""
        return NotImplemented

    def unmodified(self, etag):
        """Whether the client holds this version already (``If-None-Match``)."""
        return etag in _listed(self.request.headers.get("If-None-Match", ""))

    def update(self, request, *args, **kwargs):
        with transaction.atomic():
            obj = self._locked_object()
            self._check_if_match(obj)
            serializer = self.get_serializer(obj, data=request.data, partial=kwargs.pop("partial", False))
            serializer.is_valid(raise_exception=True)
            self.perform_update(serializer)
            serializer.instance._prefetched_objects_cache = {}
            # Answer from inside the transaction: if the database fails now, nothing was stored.
            data = serializer.data
        return self._with_etag(Response(data), serializer.instance)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            self.perform_create(serializer)
            data = serializer.data
        response = Response(data, status=HTTPStatus.CREATED, headers=self.get_success_headers(data))
        return self._with_etag(response, serializer.instance)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            obj = self._locked_object()
            self._check_if_match(obj)
            self.perform_destroy(obj)
        return Response(status=HTTPStatus.NO_CONTENT)
