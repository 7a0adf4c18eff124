from http import HTTPStatus

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """Answers 503 with a JSON body when the database cannot be reached.

    While PostgreSQL restarts, requests fail fast and cleanly instead of showing a 500 page;
    Django's connection health checks replace the broken connection on the next request,
    so the service recovers by itself when the database is back.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError):
            return self.unavailable()

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)):
            return self.unavailable()
        return None

    @staticmethod
    def unavailable():
        response = JsonResponse(
            {"detail": "The database is unavailable. Try again in a few seconds."},
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
