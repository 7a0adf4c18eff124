import functools

from django import forms
from django_filters import utils
from django_filters.filters import BaseCSVFilter
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

# Parameters that every endpoint understands besides its filters.
GLOBAL_QUERY_PARAMETERS = frozenset({"format"})


def check_query_parameters(request, allowed, lists=frozenset()):
    """A 400 naming every query parameter outside ``allowed`` (plus the global ones), and every
    parameter that takes one value but was given several: keeping one of them would answer a
    question the client did not ask. Parameters in ``lists`` take several values."""
    allowed = set(allowed) | GLOBAL_QUERY_PARAMETERS
    params = request.query_params
    errors = {
        name: [f"Unknown query parameter. Known parameters: {', '.join(sorted(allowed))}."]
        for name in sorted(set(params) - allowed)
    }
    for name in sorted(set(params) & allowed - set(lists)):
        count = len(params.getlist(name))
        if count > 1:
            errors[name] = [f"Given {count} times; this parameter takes one value."]
    if errors:
        raise ValidationError(errors)


def list_values(params, name):
    """The values of a list parameter, sent as a comma list, as the parameter repeated, or both."""
    return [value for given in params.getlist(name) for value in given.split(",")]


def pagination_parameters(view) -> set[str]:
    """The query parameters of the view's paginator, e.g. ``limit`` and ``offset``."""
    paginator = getattr(view, "paginator", None)
    names = ("limit_query_param", "offset_query_param", "page_query_param", "cursor_query_param")
    return {getattr(paginator, name) for name in names if getattr(paginator, name, None)}


@functools.cache
def list_filters(filterset_class) -> frozenset[str]:
    """The filters that take a list (``type__in``)."""
    if filterset_class is None:
        return frozenset()
    return frozenset(
        name for name, filter_ in filterset_class.base_filters.items() if isinstance(filter_, BaseCSVFilter)
    )


@functools.cache
def typed_filters(filterset_class) -> frozenset[str]:
    """The filters whose value is not free text (a date, a number, a choice, an id, a box)."""
    if filterset_class is None:
        return frozenset()
    return frozenset(
        name
        for name, filter_ in filterset_class.base_filters.items()
        if not issubclass(filter_.field_class, forms.CharField)
    )


def from_html_form(request) -> bool:
    """A request of the browsable API's filter form, which sends every field, filled or not."""
    renderer = getattr(request, "accepted_renderer", None)
    return getattr(renderer, "format", None) == "api"


class StrictDjangoFilterBackend(DjangoFilterBackend):
    """Rejects query parameters that no filter understands, and single values given twice.

    django-filter ignores unknown parameters, so ``?contry=UA`` would quietly return every
    row. Analysts rarely notice that, so a misspelt parameter is a 400 naming it instead.
    A list filter takes ``?type__in=strike,combat`` and ``?type__in=strike&type__in=combat``
    alike (django-filter would keep the last of the repeated values).
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        allowed = pagination_parameters(view)
        if filterset_class is not None:
            allowed.update(filterset_class.base_filters)
        check_query_parameters(request, allowed, lists=list_filters(filterset_class))
        if not from_html_form(request):
            # An empty date, number or choice is no value at all; reading it as "no filter" would
            # answer a question the client did not ask.
            params = request.query_params
            empty = sorted(
                name for name in typed_filters(filterset_class) & set(params) if not any(params.getlist(name))
            )
            if empty:
                raise ValidationError(
                    {
                        name: ["An empty value; give one, or leave the parameter out to not filter by it."]
                        for name in empty
                    }
                )
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        form = filterset.form
        # Only the fields that the query string fills are validated. The others would clean to
        # empty values, which filter nothing (no filter here is required), and binding and
        # cleaning thirty-odd of them costs more than the page's query. The browsable API's
        # filter form (to_html) is built apart and keeps them all.
        form.fields = {
            name: field
            for name, field in form.fields.items()
            if not field.widget.value_omitted_from_data(form.data, form.files, form.add_prefix(name))
        }
        if not filterset.is_valid() and self.raise_exception:
            raise utils.translate_validation(filterset.errors)
        # Kept for the view: lists read known_at from it (see RowListMixin).
        view.filterset = filterset
        return filterset.qs

    def get_filterset_kwargs(self, request, queryset, view):
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        data = kwargs["data"]
        repeated = [
            name for name in list_filters(self.get_filterset_class(view, queryset)) if len(data.getlist(name)) > 1
        ]
        if repeated:
            data = data.copy()
            for name in repeated:
                data[name] = ",".join(list_values(data, name))
            kwargs["data"] = data
        return kwargs
