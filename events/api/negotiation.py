from django.http import Http404
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    """An unknown or empty ``?format=`` is a 400 naming the formats on offer, not DRF's bare 404
    (or, for an empty one, the format of the Accept header, which the client did not ask for)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if request.query_params.get(self.settings.URL_FORMAT_OVERRIDE) == "":
            known = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise ValidationError({"format": [f"An empty format; known formats here: {known}."]})
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Http404:
            known = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise ValidationError({"format": [f"Unknown format. Known formats here: {known}."]}) from None
