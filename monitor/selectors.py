"""Read queries for the pages: what each one shows, fetched in a few queries."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery

from monitor.models import Endpoint, PromptSet, Run


def endpoints_overview() -> list[Endpoint]:
    """Every endpoint, ordered by model family, each with ``latest_run`` (or None)."""
    newest = Run.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at").values("pk")[:1]
    endpoints = list(
        Endpoint.objects.select_related("prompt_set").annotate(last_run_id=Subquery(newest))
    )
    runs = Run.objects.in_bulk([e.last_run_id for e in endpoints if e.last_run_id])
    for endpoint in endpoints:
        endpoint.latest_run = runs.get(endpoint.last_run_id)
    return endpoints


def recent_runs(endpoint: Endpoint, limit: int = 50) -> QuerySet[Run]:
    return endpoint.runs.select_related("prompt_set_version__prompt_set")[:limit]


def run_samples_by_prompt(run: Run) -> list[dict]:
    """The run's samples grouped under their prompt, in prompt-set order."""
    prompts = run.prompt_set_version.prompts.prefetch_related(
        Prefetch("samples", queryset=run.samples.order_by("sample_index"), to_attr="run_samples")
    )
    return [{"prompt": prompt, "samples": prompt.run_samples} for prompt in prompts]


def prompt_sets_with_counts() -> QuerySet[PromptSet]:
    return PromptSet.objects.annotate(
        version_count=Count("versions", distinct=True),
        endpoint_count=Count("endpoints", distinct=True),
    )
