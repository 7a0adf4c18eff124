from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

# Parameters that every endpoint understands besides its filters.
GLOBAL_QUERY_PARAMETERS = frozenset({"format"})


class StrictDjangoFilterBackend(DjangoFilterBackend):
    """Rejects query parameters that no filter understands.

    django-filter ignores unknown parameters, so ``?contry=UA`` would quietly return every
    row. Analysts rarely notice that, so a misspelt parameter is a 400 naming it instead.
    """

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        allowed = set(GLOBAL_QUERY_PARAMETERS)
        if filterset is not None:
            allowed.update(filterset.filters)
        paginator = getattr(view, "paginator", None)
        if paginator is not None:
            allowed.update(
                getattr(paginator, name)
                for name in ("limit_query_param", "offset_query_param", "page_query_param", "cursor_query_param")
                if getattr(paginator, name, None)
            )
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise ValidationError(
                {
                    name: [f"Unknown query parameter. Known parameters: {', '.join(sorted(allowed))}."]
                    for name in unknown
                }
            )
        return super().filter_queryset(request, queryset, view)
