"""A run's page and its progress as JSON, and pinning a run as its endpoint's baseline."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from monitor.models import Run
from monitor.selectors.length import length_context, run_lengths
from monitor.selectors.metrics import metric_label
from monitor.selectors.run import (
    prompt_breakdown,
    rule_verdicts,
    run_metric_rows,
    run_samples_by_prompt,
    wrong_probes_by_bucket,
)
from monitor.services import baselines
from monitor.views.access import requires
from monitor.views.redirects import back_to


@requires("monitor.view_run")
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(
        Run.objects.select_related("endpoint", "prompt_set_version__prompt_set"), pk=pk
    )
    baseline = baselines.baseline_for(run) if run.report else None
    columns, prompt_rows = prompt_breakdown(run)
    context = {
        "run": run,
        "baseline": baseline,
        "metric_rows": run_metric_rows(run, baseline),
        "breakdown_columns": [metric_label(key) for key in columns],
        "breakdown_rows": prompt_rows,
        "wrong_probes": wrong_probes_by_bucket(run),
        "prompt_groups": run_samples_by_prompt(run),
        "rule_verdicts": rule_verdicts(run),
        "lengths": run_lengths(run),
        "length_context": length_context(
            run, baseline, clause="the alert rules judge the length-matched signs"
        ),
    }
    return render(request, "monitor/run_detail.html", context)


@requires("monitor.view_run")
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


@requires("monitor.change_endpoint")
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
