"""The endpoint page: its recent runs, and a chart per metric over a chosen time range."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from monitor.models import AlertEvent, Endpoint, EventKind, MetricPoint, Run, RunQuerySet
from monitor.selectors.metrics import ordered_metrics
from monitor.selectors.series import CHART_POINTS, metric_chart, metric_series_by_metric
from monitor.services import baselines

CHART_RANGES: dict[str, timedelta | None] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
DEFAULT_CHART_RANGE = "30d"
MARKED_EVENTS = (EventKind.FIRED, EventKind.RESOLVED)


def recent_runs(endpoint: Endpoint, limit: int = 50) -> QuerySet[Run]:
    return endpoint.runs.select_related("prompt_set_version__prompt_set")[:limit]


def range_start(range_key: str, now: datetime | None = None) -> datetime | None:
    span = CHART_RANGES[range_key]
    return (now or timezone.now()) - span if span else None


def latest_scored_run(runs: RunQuerySet) -> Run | None:
    """The newest scored run of ``runs``, or None while none is scored."""
    return runs.scored().order_by("-created_at").first()


def run_metric_values(run: Run | None) -> dict[str, float]:
    if run is None:
        return {}
    return dict(MetricPoint.objects.filter(run=run).values_list("metric", "value"))


def alert_markers(endpoint: Endpoint, start: datetime | None) -> dict[str, list[dict]]:
    """Fired and resolved alert events by metric, placed at the time of the run that caused
    them (the time of its point on the chart)."""
    events = AlertEvent.objects.filter(alert__endpoint=endpoint, kind__in=MARKED_EVENTS)
    if start:
        events = events.filter(created_at__gte=start)
    markers: dict[str, list[dict]] = defaultdict(list)
    for event in events.select_related("alert__rule", "run"):
        when = (event.run.finished_at if event.run else None) or event.created_at
        markers[event.alert.rule.metric].append(
            {"t": int(when.timestamp()), "kind": event.kind, "label": event.get_kind_display()}
        )
    return markers


def endpoint_charts(endpoint: Endpoint, start: datetime | None) -> list[dict]:
    """One chart per metric the endpoint's latest scored run has: the downsampled series with
    its band, the baseline value the latest run is compared with, and alert markers."""
    latest = latest_scored_run(endpoint.runs.all())
    if latest is None:
        return []
    metrics = ordered_metrics(run_metric_values(latest))
    baseline = baselines.baseline_for(latest)
    baseline_values = run_metric_values(baseline)
    markers = alert_markers(endpoint, start)
    series = metric_series_by_metric(endpoint, metrics, start, None, CHART_POINTS)
    return [
        metric_chart(
            metric,
            [(endpoint.name, series.get(metric, []))],
            markers.get(metric, []),
            baseline_values.get(metric),
            baseline.pk if baseline else None,
        )
        for metric in metrics
    ]
