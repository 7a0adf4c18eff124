from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """``?limit=&offset=`` with a documented ceiling; malformed values are a 400, not ignored."""

    default_limit = 50
    max_limit = 1000

    def _parse(self, request, name, default, maximum=None):
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError({name: [f"A whole number is required; got {raw!r}."]}) from None
        if value < 0:
            raise ValidationError({name: ["Must not be negative."]})
        if maximum is not None and value > maximum:
            raise ValidationError({name: [f"Must be at most {maximum}."]})
        return value

    def get_limit(self, request):
        return self._parse(request, self.limit_query_param, self.default_limit, self.max_limit) or self.default_limit

    def get_offset(self, request):
        return self._parse(request, self.offset_query_param, 0)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["description"] = (
                    f"Number of results to return per page (default {self.default_limit}, at most {self.max_limit})."
                )
                parameter["schema"].update({"minimum": 0, "maximum": self.max_limit})
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"]["minimum"] = 0
        return parameters
