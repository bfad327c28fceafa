from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from monitor.forms import LoginForm
from monitor.views import (
    alerts,
    compare,
    endpoints,
    errors,
    health,
    lab,
    metrics,
    overview,
    prompt_sets,
    runs,
    scans,
)

handler404 = errors.not_found

urlpatterns = [
    path("", overview.endpoint_list, name="endpoint-list"),
    path("endpoints/new/", endpoints.endpoint_create, name="endpoint-create"),
    path("endpoints/<int:pk>/", endpoints.endpoint_detail, name="endpoint-detail"),
    path("endpoints/<int:pk>/edit/", endpoints.endpoint_edit, name="endpoint-edit"),
    path("endpoints/<int:pk>/run/", endpoints.endpoint_run_now, name="endpoint-run-now"),
    path("endpoints/<int:pk>/toggle/", endpoints.endpoint_toggle, name="endpoint-toggle"),
    path(
        "endpoints/<int:pk>/test-connection/",
        endpoints.endpoint_test_connection,
        name="endpoint-test-connection",
    ),
    path(
        "endpoints/<int:pk>/unpin-baseline/",
        endpoints.endpoint_unpin_baseline,
        name="endpoint-unpin-baseline",
    ),
    path("runs/<int:pk>/", runs.run_detail, name="run-detail"),
    path("runs/<int:pk>/progress/", runs.run_progress, name="run-progress"),
    path("runs/<int:pk>/pin-baseline/", runs.run_pin_baseline, name="run-pin-baseline"),
    path("compare/", compare.compare, name="compare"),
    path("compare/tests/<int:a>/<int:b>/", compare.compare_tests, name="compare-tests"),
    path(
        "compare/tests/<int:a>/<int:b>/retry/",
        compare.retry_compare_tests,
        name="compare-tests-retry",
    ),
    path("alerts/", alerts.alert_list, name="alert-list"),
    path("alerts/<int:pk>/acknowledge/", alerts.alert_acknowledge, name="alert-acknowledge"),
    path("alerts/<int:pk>/silence/", alerts.alert_silence, name="alert-silence"),
    path("alerts/rules/new/", alerts.rule_create, name="rule-create"),
    path("alerts/rules/<int:pk>/", alerts.rule_edit, name="rule-edit"),
    path("prompt-sets/", prompt_sets.promptset_list, name="promptset-list"),
    path("prompt-sets/<int:pk>/", prompt_sets.promptset_detail, name="promptset-detail"),
    path("scans/", scans.scan_list, name="scan-list"),
    path("scans/<int:pk>/", scans.scan_detail, name="scan-detail"),
    path("scans/<int:pk>/progress/", scans.scan_progress, name="scan-progress"),
    path("scans/<int:pk>/<str:what>/", scans.scan_download, name="scan-download"),
    path("lab/v1/chat/completions", lab.completions, name="lab-chat"),
    path("lab/v1/completions", lab.completions, name="lab-completions"),
    path("lab/v1/models", lab.models, name="lab-models"),
    path("lab/v1/models/<str:model_id>", lab.model, name="lab-model"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/", include("monitor.api.urls")),
    path("login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
