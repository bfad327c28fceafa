"""The web UI's pages: thin views over selectors (reads) and services (writes)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from monitor import selectors
from monitor.clients.openai_compatible import Completion
from monitor.forms import EndpointForm, PromptSetUploadForm
from monitor.models import Endpoint, PromptSet, Run
from monitor.services import baselines, connection, prompts, sampling
from monitor.views.redirects import back_to


@login_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    """The overview: every endpoint's headline warning signs, open alerts on top."""
    alerts = selectors.open_alerts()
    context = {
        "families": selectors.overview(alerts),
        "alerts": alerts,
        "headline": [(key, selectors.metric_label(key)) for key in selectors.HEADLINE_METRICS],
        "sparkline_runs": selectors.SPARKLINE_RUNS,
    }
    return render(request, "monitor/endpoint_list.html", context)


@login_required
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(
        Endpoint.objects.select_related("prompt_set", "baseline_run", "baseline_endpoint"), pk=pk
    )
    range_key = request.GET.get("range", selectors.DEFAULT_CHART_RANGE)
    if range_key not in selectors.CHART_RANGES:
        range_key = selectors.DEFAULT_CHART_RANGE
    context = {
        "endpoint": endpoint,
        "runs": selectors.recent_runs(endpoint),
        "charts": selectors.endpoint_charts(endpoint, selectors.range_start(range_key)),
        "ranges": selectors.CHART_RANGES,
        "range_key": range_key,
        "alerts": selectors.open_alerts(endpoint),
    }
    return render(request, "monitor/endpoint_detail.html", context)


@login_required
def endpoint_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=pk) if pk else None
    form = EndpointForm(request.POST or None, instance=endpoint)
    if request.method == "POST" and form.is_valid():
        endpoint = form.save()
        messages.success(request, f"Saved {endpoint.name}.")
        return redirect(endpoint)
    return render(request, "monitor/endpoint_form.html", {"form": form, "endpoint": endpoint})


@login_required
@require_POST
def endpoint_run_now(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=pk)
    try:
        run = sampling.start_run(endpoint)
    except sampling.RunNotStartedError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Run {run.pk} queued.")
    return redirect(endpoint)


@login_required
@require_POST
def endpoint_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=pk)
    endpoint.enabled = not endpoint.enabled
    endpoint.save(update_fields=["enabled", "updated_at"])
    messages.success(request, f"{endpoint.name} {'resumed' if endpoint.enabled else 'paused'}.")
    return redirect(endpoint)


@login_required
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


@login_required
@require_POST
def run_pin_baseline(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.select_related("endpoint"), pk=pk)
    try:
        baselines.pin_baseline(run)
    except baselines.BaselineNotFitError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Run {run.pk} is now the baseline of {run.endpoint}.")
    return back_to(request, run.endpoint.get_absolute_url())


@login_required
@require_POST
def endpoint_unpin_baseline(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = baselines.unpin_baseline(get_object_or_404(Endpoint, pk=pk))
    messages.success(request, f"{endpoint} is compared with a window of good runs again.")
    return redirect(endpoint)


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(
        Run.objects.select_related("endpoint", "prompt_set_version__prompt_set"), pk=pk
    )
    baseline = baselines.baseline_for(run) if run.report else None
    columns, prompt_rows = selectors.prompt_breakdown(run)
    context = {
        "run": run,
        "baseline": baseline,
        "metric_rows": selectors.run_metric_rows(run, baseline),
        "breakdown_columns": [selectors.metric_label(key) for key in columns],
        "breakdown_rows": prompt_rows,
        "wrong_probes": selectors.wrong_probes_by_bucket(run),
        "prompt_groups": selectors.run_samples_by_prompt(run),
        "rule_evaluations": list(run.rule_evaluations.select_related("rule")),
    }
    return render(request, "monitor/run_detail.html", context)


@login_required
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(Run, pk=pk)
    return JsonResponse(
        {
            "status": run.status,
            "active": run.is_active,
            "done": run.samples_done,
            "expected": run.samples_expected,
            "failed": run.samples_failed,
            "percent": run.progress_percent,
        }
    )


@login_required
def promptset_list(request: HttpRequest) -> HttpResponse:
    form = PromptSetUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            version = prompts.import_prompt_file(
                form.cleaned_data["name"],
                upload.name,
                upload.read(prompts.MAX_UPLOAD_BYTES + 1),
                form.cleaned_data["description"],
            )
        except prompts.PromptImportError as exc:
            form.add_error("file", f"Nothing was imported: {len(exc.errors)} problem(s).")
            return render(
                request,
                "monitor/promptset_list.html",
                {
                    "form": form,
                    "prompt_sets": selectors.prompt_sets_with_counts(),
                    "errors": exc.errors,
                },
            )
        messages.success(request, f"Imported {version} ({version.prompts.count()} prompts).")
        return redirect(version.prompt_set)
    context = {"form": form, "prompt_sets": selectors.prompt_sets_with_counts()}
    return render(request, "monitor/promptset_list.html", context)


@login_required
def promptset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    prompt_set = get_object_or_404(PromptSet, pk=pk)
    versions = prompt_set.versions.all()
    latest = prompt_set.latest_version
    context = {
        "prompt_set": prompt_set,
        "versions": versions,
        "latest": latest,
        "prompts": latest.prompts.all()[:500] if latest else [],
        "upload_form": PromptSetUploadForm(initial={"name": prompt_set.name}),
    }
    return render(request, "monitor/promptset_detail.html", context)
