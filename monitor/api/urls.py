"""Routes under /api/, with the OpenAPI schema and its browsable docs (assets served here)."""

from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularSwaggerSplitView,
)
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter

from monitor.api import alerts, analysis, gate, resources

# Ids are digits a database integer holds: anything else is a 404 from the URL resolver, never a
# database error.
ID = "[0-9]{1,18}"


class Router(DefaultRouter):
    include_root_view = False
    include_format_suffixes = False

    def get_lookup_regex(self, viewset, lookup_prefix: str = "") -> str:
        return f"(?P<{lookup_prefix}pk>{ID})"


router = Router(trailing_slash=True)
router.register("endpoints", resources.EndpointViewSet, basename="api-endpoint")
router.register("prompt-sets", resources.PromptSetViewSet, basename="api-promptset")
router.register("runs", resources.RunViewSet, basename="api-run")
router.register(rf"runs/(?P<run_pk>{ID})/samples", resources.SampleViewSet, basename="api-sample")
router.register("alerts", alerts.AlertViewSet, basename="api-alert")
router.register("rules", alerts.AlertRuleViewSet, basename="api-rule")
router.register("channels", alerts.ChannelViewSet, basename="api-channel")
router.register("scans", analysis.ScanViewSet, basename="api-scan")

# The schema and docs describe the API to anyone who can reach it; the data needs a token.
public = {"permission_classes": [AllowAny], "authentication_classes": []}

urlpatterns = [
    path("", include(router.urls)),
    re_path(rf"^endpoints/(?P<pk>{ID})/series/$", analysis.SeriesView.as_view(), name="api-series"),
    re_path(rf"^runs/(?P<pk>{ID})/verdict/$", gate.VerdictView.as_view(), name="api-verdict"),
    path("compare/", analysis.CompareView.as_view(), name="api-compare"),
    path("schema/", SpectacularAPIView.as_view(**public), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", **public),
        name="api-docs",
    ),
]
