"""Read queries for the pages: what each one shows, fetched in a few queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Avg,
    BigIntegerField,
    Count,
    Func,
    Max,
    Min,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
)

from monitor.models import Endpoint, MetricPoint, PromptSet, Run


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


class EpochSeconds(Func):
    """Seconds since 1970 of a datetime column, in SQL, on SQLite and PostgreSQL alike."""

    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            # julianday() counts days from 4714 BC; 2440587.5 of them had passed by 1970.
            compiler,
            connection,
            template="CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400) AS INTEGER)",
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS BIGINT)"
        )


@dataclass(frozen=True)
class SeriesPoint:
    """One point of a chart: a raw run's value, or the mean of a time bucket with its range.
    ``time`` is in epoch seconds; ``run_id`` is set only for a raw point."""

    time: int
    value: float
    low: float | None
    high: float | None
    count: int
    run_id: int | None = None


def metric_series(
    endpoint: Endpoint,
    metric: str,
    start: datetime | None = None,
    end: datetime | None = None,
    max_points: int = 500,
) -> list[SeriesPoint]:
    """The metric's points for a time range, oldest first, at most ``max_points`` of them.

    Up to ``max_points`` raw points are returned as they are (low/high: the 95% CI). More are
    averaged in equal time buckets, computed by the database, with each bucket's min and max
    as low/high, so a year of five-minute runs draws from a few hundred rows.
    """
    points = MetricPoint.objects.filter(endpoint=endpoint, metric=metric)
    if start:
        points = points.filter(time__gte=start)
    if end:
        points = points.filter(time__lte=end)
    if points.count() <= max_points:
        return [
            SeriesPoint(int(p.time.timestamp()), p.value, p.ci_low, p.ci_high, 1, p.run_id)
            for p in points.order_by("time")
        ]
    span = points.aggregate(first=Min("time"), last=Max("time"))
    first, last = int(span["first"].timestamp()), int(span["last"].timestamp())
    width = max(1, -(-(last - first + 1) // max_points))  # ceiling division
    buckets = (
        points.annotate(bucket=(EpochSeconds("time") - Value(first)) / Value(width))
        .values("bucket")
        .annotate(mean=Avg("value"), low=Min("value"), high=Max("value"), count=Count("pk"))
        .order_by("bucket")
    )
    return [
        SeriesPoint(
            first + row["bucket"] * width + width // 2,
            row["mean"],
            row["low"],
            row["high"],
            row["count"],
        )
        for row in buckets
    ]
