"""The overview, the home page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from monitor.selectors.alerts import open_alerts
from monitor.selectors.metrics import HEADLINE_METRICS, metric_label
from monitor.selectors.overview import SPARKLINE_RUNS, overview
from monitor.views.access import requires


@requires("monitor.view_endpoint")
def endpoint_list(request: HttpRequest) -> HttpResponse:
    """The overview: every endpoint's headline warning signs, open alerts on top."""
    alerts = open_alerts()
    context = {
        "families": overview(alerts),
        "alerts": alerts,
        "headline": [(key, metric_label(key)) for key in HEADLINE_METRICS],
        "sparkline_runs": SPARKLINE_RUNS,
    }
    return render(request, "monitor/endpoint_list.html", context)
