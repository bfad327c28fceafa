"""Compare two runs, endpoints or versions: the page, where its significance test stands (JSON,
for the page to poll), and a failed test queued again."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from monitor.forms import CompareForm
from monitor.models import Endpoint, Run
from monitor.selectors.compare import (
    ComparisonError,
    compared_metrics,
    comparison_runs,
    family_versions,
    overlaid_charts,
    side_by_side,
    tail_losses,
)
from monitor.selectors.length import POLICY_CLAUSE, length_context, run_lengths
from monitor.services import comparison, comparison_jobs
from monitor.views.access import requires


@requires("monitor.view_run")
def compare(request: HttpRequest) -> HttpResponse:
    """Everything about B against A on one page; the significance column comes from the stored
    test, or is filled in from ``compare_tests`` once a worker has computed it."""
    # A link may name only A (the endpoint page's "compare with another endpoint"): it fills in
    # the picker instead of failing validation.
    chosen = {"a", "b"} <= request.GET.keys()
    form = CompareForm(request.GET if chosen else None, initial=request.GET.dict())
    context: dict = {
        "form": form,
        "endpoints": Endpoint.objects.all(),
        "family_versions": family_versions(),
        "by": request.GET.get("by", "endpoint"),
    }
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            run_a, run_b = comparison_runs(data["by"], data["a"], data["b"], data["family"])
        except ComparisonError as exc:
            context["error"] = str(exc)
        else:
            significance = comparison_jobs.request(run_a, run_b)
            rows, common_prompts = side_by_side(run_a, run_b)
            context.update(
                run_a=run_a,
                run_b=run_b,
                significance=significance,
                metrics=compared_metrics(run_a, run_b, significance.result),
                permutations=comparison.PAGE_PERMUTATIONS,
                charts=overlaid_charts(run_a, run_b),
                side_by_side=rows,
                common_prompts=common_prompts,
                tail_losses=tail_losses(run_a, run_b),
                lengths_a=run_lengths(run_a),
                lengths_b=run_lengths(run_b),
                length_context=length_context(
                    run_b, run_a, subject="B's answers", than="A's", clause=POLICY_CLAUSE
                ),
            )
    return render(request, "monitor/compare.html", context)


def _scored_run(pk: int) -> Run:
    return get_object_or_404(Run.objects.filter(report__isnull=False), pk=pk)


@requires("monitor.view_run")
def compare_tests(request: HttpRequest, a: int, b: int) -> JsonResponse:
    """Where the significance test of run ``b`` against run ``a`` is, and its p-values per
    metric once a worker has computed them: the page polls this."""
    test = comparison_jobs.request(_scored_run(a), _scored_run(b))
    return JsonResponse(
        {"status": test.status, "progress": test.progress, "metrics": test.result or {}}
    )


@require_POST
@requires("monitor.view_run")
def retry_compare_tests(request: HttpRequest, a: int, b: int) -> HttpResponse:
    """Queue a failed significance test again, and show the comparison of the two runs."""
    comparison_jobs.retry(comparison_jobs.request(_scored_run(a), _scored_run(b)))
    return redirect(f"{reverse('compare')}?by=run&a={a}&b={b}")
