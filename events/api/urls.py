from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views
from .consensus import ConsensusView

app_name = "api"

router = DefaultRouter()
router.register("sources", views.SourceViewSet)
router.register("units", views.UnitViewSet)
router.register("unit-positions", views.UnitPositionViewSet)
router.register("events", views.EventViewSet)
router.register("casualty-reports", views.CasualtyReportViewSet)
router.register("casualty-report-links", views.CasualtyReportLinkViewSet)
router.register("event-links", views.EventLinkViewSet)

urlpatterns = [
    path("deletions/", views.DeletionListView.as_view(), name="deletion-list"),
    path("consensus/", ConsensusView.as_view(), name="consensus"),
    *router.urls,
]
