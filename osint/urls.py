from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from events.api.views import TokenView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("events.api.urls")),
    path("api/auth/token/", TokenView.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html"), name="redoc"),
    path("api-auth/", include("rest_framework.urls")),
]

# Errors outside the API's own handling (unknown URLs, crashes) answer in JSON too, never
# with a page that shows a stack trace.
handler400 = "rest_framework.exceptions.bad_request"
handler404 = "osint.views.page_not_found"
handler500 = "rest_framework.exceptions.server_error"
