from http import HTTPStatus

from django.http import JsonResponse
from django.views import defaults


def page_not_found(request, exception):
    """JSON for API clients, Django's page for people in the admin."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=HTTPStatus.NOT_FOUND)
    return defaults.page_not_found(request, exception)
