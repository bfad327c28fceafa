"""Compare two runs, endpoints or versions: the page, its significance test asked for (POST) and
where it stands (GET, JSON, for the page to poll), and a failed test queued again."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from monitor.forms import CompareForm
from monitor.models import Comparison, Endpoint, Run
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
    test, or is filled in from ``compare_tests`` once a worker has computed it. Opening the page
    asks for nothing: its script asks for the test (a POST) and polls it."""
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
            significance = comparison_jobs.stored(run_a, run_b)
            rows, common_prompts = side_by_side(run_a, run_b)
            context.update(
                run_a=run_a,
                run_b=run_b,
                significance=significance,
                metrics=compared_metrics(run_a, run_b, significance and significance.result),
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


NOT_REQUESTED = "The significance test has not been asked for yet."


def _test_state(test: Comparison | None) -> dict:
    if test is None:
        return {"status": "not requested", "progress": NOT_REQUESTED, "metrics": {}}
    return {"status": test.status, "progress": test.progress, "metrics": test.result or {}}


@require_http_methods(["GET", "POST"])
@requires("monitor.view_run")
def compare_tests(request: HttpRequest, a: int, b: int) -> JsonResponse:
    """The significance test of run ``b`` against run ``a``: a GET says where it stands, and
    its p-values per metric once a worker has computed them (the page polls this); a POST asks
    for it, answering 400 for runs that cannot be tested and 429 while the scoring queue holds
    as many tests as allowed. A test already asked for is answered as it stands."""
    run_a, run_b = get_object_or_404(Run, pk=a), get_object_or_404(Run, pk=b)
    if request.method == "GET":
        return JsonResponse(_test_state(comparison_jobs.stored(run_a, run_b)))
    try:
        test = comparison_jobs.request(run_a, run_b)
    except comparison_jobs.NotComparable as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except comparison_jobs.TooManyTests as exc:
        return JsonResponse({"error": str(exc)}, status=429)
    return JsonResponse(_test_state(test))


@require_POST
@requires("monitor.view_run")
def retry_compare_tests(request: HttpRequest, a: int, b: int) -> HttpResponse:
    """Queue a failed significance test again, and show the comparison of the two runs (which
    asks for a test never asked for)."""
    test = comparison_jobs.stored(get_object_or_404(Run, pk=a), get_object_or_404(Run, pk=b))
    try:
        if test is not None:
            comparison_jobs.retry(test)
    except comparison_jobs.TooManyTests as exc:
        messages.error(request, str(exc))
    return redirect(f"{reverse('compare')}?by=run&a={a}&b={b}")
