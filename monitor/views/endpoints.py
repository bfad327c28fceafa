"""An endpoint's page with its charts, and adding, editing, running, pausing and testing it."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from monitor.clients.openai_compatible import Completion
from monitor.forms import EndpointForm
from monitor.models import Endpoint
from monitor.selectors.alerts import open_alerts
from monitor.selectors.endpoint import (
    CHART_RANGES,
    DEFAULT_CHART_RANGE,
    endpoint_charts,
    range_start,
    recent_runs,
)
from monitor.services import baselines, connection, endpoints, sampling
from monitor.views.access import requires


@requires("monitor.view_endpoint")
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(
        Endpoint.objects.select_related("prompt_set", "baseline_run", "baseline_endpoint"), pk=pk
    )
    range_key = request.GET.get("range", DEFAULT_CHART_RANGE)
    if range_key not in CHART_RANGES:
        range_key = DEFAULT_CHART_RANGE
    context = {
        "endpoint": endpoint,
        "runs": recent_runs(endpoint),
        "charts": endpoint_charts(endpoint, range_start(range_key)),
        "ranges": CHART_RANGES,
        "range_key": range_key,
        "alerts": open_alerts(endpoint),
    }
    return render(request, "monitor/endpoint_detail.html", context)


@requires("monitor.add_endpoint")
def endpoint_create(request: HttpRequest) -> HttpResponse:
    return _endpoint_form(request, None)


@requires("monitor.change_endpoint")
def endpoint_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _endpoint_form(request, get_object_or_404(Endpoint, pk=pk))


def _endpoint_form(request: HttpRequest, endpoint: Endpoint | None) -> HttpResponse:
    form = EndpointForm(request.POST or None, instance=endpoint, user=request.user)
    if request.method == "POST" and form.is_valid():
        endpoint = form.save()
        messages.success(request, f"Saved {endpoint.name}.")
        return redirect(endpoint)
    return render(request, "monitor/endpoint_form.html", {"form": form, "endpoint": endpoint})


@requires("monitor.run_endpoint")
@require_POST
def endpoint_run_now(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=pk)
    try:
        run = sampling.start_run(endpoint)
    except sampling.RunNotStartedError as exc:
        messages.error(request, str(exc))
    else:
        run.refresh_from_db(fields=["enqueued_at"])
        if run.enqueued_at is None:
            messages.warning(
                request,
                f"Run {run.pk} is queued, but the task queue cannot be reached: "
                "it starts once the queue is back.",
            )
        else:
            messages.success(request, f"Run {run.pk} queued.")
    return redirect(endpoint)


@requires("monitor.change_endpoint")
@require_POST
def endpoint_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = endpoints.toggle_enabled(get_object_or_404(Endpoint, pk=pk))
    messages.success(request, f"{endpoint.name} {'resumed' if endpoint.enabled else 'paused'}.")
    return redirect(endpoint)


@requires("monitor.run_endpoint")
@require_POST
def endpoint_test_connection(request: HttpRequest, pk: int) -> HttpResponse:
    """Send one prompt with the endpoint's settings and show the reply or the error."""
    endpoint = get_object_or_404(Endpoint, pk=pk)
    outcome = connection.check_connection(endpoint)
    context = {
        "endpoint": endpoint,
        "prompt": connection.CONNECTION_PROMPT,
        "outcome": outcome,
        "answered": isinstance(outcome, Completion),
    }
    return render(request, "monitor/connection_test.html", context)


@requires("monitor.change_endpoint")
@require_POST
def endpoint_unpin_baseline(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = baselines.unpin_baseline(get_object_or_404(Endpoint, pk=pk))
    messages.success(request, f"{endpoint} is compared with a window of good runs again.")
    return redirect(endpoint)
