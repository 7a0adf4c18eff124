from rest_framework.routers import DefaultRouter

from . import views

app_name = "api"

router = DefaultRouter()
router.register("sources", views.SourceViewSet)
router.register("units", views.UnitViewSet)
router.register("events", views.EventViewSet)
router.register("casualty-reports", views.CasualtyReportViewSet)

urlpatterns = router.urls
