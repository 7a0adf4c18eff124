from django_filters import utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

# Parameters that every endpoint understands besides its filters.
GLOBAL_QUERY_PARAMETERS = frozenset({"format"})


def reject_unknown_parameters(request, allowed):
    """A 400 naming every query parameter outside ``allowed`` (plus the global ones)."""
    allowed = set(allowed) | GLOBAL_QUERY_PARAMETERS
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ValidationError(
            {name: [f"Unknown query parameter. Known parameters: {', '.join(sorted(allowed))}."] for name in unknown}
        )


def pagination_parameters(view) -> set[str]:
    """The query parameters of the view's paginator, e.g. ``limit`` and ``offset``."""
    paginator = getattr(view, "paginator", None)
    names = ("limit_query_param", "offset_query_param", "page_query_param", "cursor_query_param")
    return {getattr(paginator, name) for name in names if getattr(paginator, name, None)}


class StrictDjangoFilterBackend(DjangoFilterBackend):
    """Rejects query parameters that no filter understands.

    django-filter ignores unknown parameters, so ``?contry=UA`` would quietly return every
    row. Analysts rarely notice that, so a misspelt parameter is a 400 naming it instead.
    """

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        allowed = pagination_parameters(view)
        if filterset is not None:
            allowed.update(filterset.filters)
        reject_unknown_parameters(request, allowed)
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
