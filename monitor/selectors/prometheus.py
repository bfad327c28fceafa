"""What ``/metrics`` exposes, read from the database at scrape time.

Workers sample and score in other processes (and on other hosts), so no in-process counter
would see their work: every figure here is computed from the tables when Prometheus scrapes,
in a fixed number of queries whatever the number of endpoints. The latency histogram counts
stored samples, so pruning old ones (``manage.py prune``) lowers it; Prometheus reads a lower
counter as a reset, and ``rate()`` and ``increase()`` stay right. The sample counters come from
the runs' own counts, which pruning leaves.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum, Window
from django.db.models.functions import RowNumber
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from monitor.models import (
    ACTIVE_RUN_STATUSES,
    FINISHED_RUN_STATUSES,
    OPEN_ALERT_STATES,
    Alert,
    Endpoint,
    MetricPoint,
    Run,
    Sample,
)

ENDPOINT_LABELS = ["endpoint", "family", "version"]
# Seconds. Latency: one request to a model server; scoring: from the end of sampling to the
# stored scores, the time in the scoring queue included.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
SCORING_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class TailwatchCollector:
    """A prometheus_client collector: ``collect()`` yields every family, freshly queried."""

    def collect(self) -> Iterator[Metric]:
        endpoints = {
            endpoint.pk: [endpoint.name, endpoint.model_family, endpoint.version_label]
            for endpoint in Endpoint.objects.only("name", "model_family", "version_label")
        }
        yield _endpoint_enabled()
        yield from _latest_metric_values(endpoints)
        yield _open_alerts()
        yield from _run_counts(endpoints)
        yield from _sample_counts(endpoints)
        yield _sample_latency(endpoints)
        yield _scoring_duration(endpoints)


def _endpoint_enabled() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "tailwatch_endpoint_enabled",
        "1 while the endpoint is sampled on its schedule, 0 while paused.",
        labels=ENDPOINT_LABELS,
    )
    for row in Endpoint.objects.values("name", "model_family", "version_label", "enabled"):
        labels = [row["name"], row["model_family"], row["version_label"]]
        family.add_metric(labels, 1.0 if row["enabled"] else 0.0)
    return family


def _latest_metric_values(endpoints: dict[int, list[str]]) -> Iterator[GaugeMetricFamily]:
    """The newest point of each metric of each endpoint, with its 95% confidence interval."""
    labels = [*ENDPOINT_LABELS, "metric"]
    value = GaugeMetricFamily(
        "tailwatch_metric_value", "The metric's value in the latest scored run.", labels=labels
    )
    low = GaugeMetricFamily(
        "tailwatch_metric_ci_low",
        "Lower end of the value's 95% confidence interval.",
        labels=labels,
    )
    high = GaugeMetricFamily(
        "tailwatch_metric_ci_high",
        "Upper end of the value's 95% confidence interval.",
        labels=labels,
    )
    newest_first = Window(
        RowNumber(), partition_by=[F("endpoint_id"), F("metric")], order_by=F("time").desc()
    )
    latest = (
        MetricPoint.objects.annotate(recency=newest_first)
        .filter(recency=1)
        .values_list("endpoint_id", "metric", "value", "ci_low", "ci_high")
    )
    for endpoint_id, metric, point_value, ci_low, ci_high in latest:
        if endpoint_id not in endpoints:  # registered since the endpoints were read
            continue
        point_labels = [*endpoints[endpoint_id], metric]
        value.add_metric(point_labels, point_value)
        if ci_low is not None:
            low.add_metric(point_labels, ci_low)
        if ci_high is not None:
            high.add_metric(point_labels, ci_high)
    yield from (value, low, high)


def _open_alerts() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "tailwatch_alert_open",
        "1 for each open alert (pending: breached, not yet fired; firing), by rule.",
        labels=["endpoint", "rule", "kind", "metric", "severity", "state"],
    )
    rows = Alert.objects.filter(state__in=OPEN_ALERT_STATES).values_list(
        "endpoint__name", "rule_id", "rule__kind", "rule__metric", "rule__severity", "state"
    )
    for name, rule_id, kind, metric, severity, state in rows:
        family.add_metric([name, str(rule_id), kind, metric, severity, state], 1.0)
    return family


def _run_counts(endpoints: dict[int, list[str]]) -> Iterator[Metric]:
    labels = [*ENDPOINT_LABELS, "status"]
    finished = CounterMetricFamily(
        "tailwatch_runs", "Finished runs, by how they ended.", labels=labels
    )
    active = GaugeMetricFamily(
        "tailwatch_runs_active", "Runs queued or sampling now.", labels=labels
    )
    rows = Run.objects.values_list("endpoint_id", "status").annotate(count=Count("pk"))
    counts = {(endpoint_id, status): count for endpoint_id, status, count in rows}
    for endpoint_id, endpoint_labels in endpoints.items():
        for statuses, family in ((FINISHED_RUN_STATUSES, finished), (ACTIVE_RUN_STATUSES, active)):
            for status in statuses:
                count = counts.get((endpoint_id, status), 0)
                family.add_metric([*endpoint_labels, status], count)
    yield from (finished, active)


def _sample_counts(endpoints: dict[int, list[str]]) -> Iterator[CounterMetricFamily]:
    """From the runs' counters, which outlive the samples that retention deletes."""
    family = CounterMetricFamily(
        "tailwatch_samples",
        "Samples taken: ok (the model answered) or failed (an error stood in its place).",
        labels=[*ENDPOINT_LABELS, "outcome"],
    )
    rows = Run.objects.values_list("endpoint_id").annotate(
        ok=Sum("samples_succeeded"), failed=Sum("samples_failed")
    )
    totals = {endpoint_id: (ok, failed) for endpoint_id, ok, failed in rows}
    for endpoint_id, endpoint_labels in endpoints.items():
        ok, failed = totals.get(endpoint_id, (0, 0))
        family.add_metric([*endpoint_labels, "ok"], ok)
        family.add_metric([*endpoint_labels, "failed"], failed)
    yield family


def _histogram(name, documentation, endpoints, rows, buckets) -> HistogramMetricFamily:
    """A histogram per endpoint from rows of (endpoint id, count, sum, count at each bound)."""
    family = HistogramMetricFamily(name, documentation, labels=ENDPOINT_LABELS)
    by_endpoint = {row[0]: row[1:] for row in rows}
    for endpoint_id, endpoint_labels in endpoints.items():
        count, total, *cumulative = by_endpoint.get(endpoint_id) or (0, 0.0, *[0] * len(buckets))
        points = [(str(bound), n) for bound, n in zip(buckets, cumulative, strict=True)]
        family.add_metric(endpoint_labels, [*points, ("+Inf", count)], total or 0.0)
    return family


def _sample_latency(endpoints: dict[int, list[str]]) -> HistogramMetricFamily:
    bounds = {
        f"le_{index}": Count("pk", filter=Q(latency_ms__lte=bound * 1000))
        for index, bound in enumerate(LATENCY_BUCKETS)
    }
    rows = (
        Sample.objects.filter(latency_ms__isnull=False)
        .values("run__endpoint_id")
        .annotate(count=Count("pk"), total_ms=Sum("latency_ms"), **bounds)
        .values_list("run__endpoint_id", "count", "total_ms", *bounds)
    )
    seconds = [(row[0], row[1], (row[2] or 0) / 1000, *row[3:]) for row in rows]
    return _histogram(
        "tailwatch_sample_latency_seconds",
        "Time a model server took to answer one sample's request (retries included).",
        endpoints,
        seconds,
        LATENCY_BUCKETS,
    )


def _scoring_duration(endpoints: dict[int, list[str]]) -> HistogramMetricFamily:
    took = ExpressionWrapper(F("scored_at") - F("finished_at"), output_field=DurationField())
    bounds = {
        f"le_{index}": Count("pk", filter=Q(took__lte=timedelta(seconds=bound)))
        for index, bound in enumerate(SCORING_BUCKETS)
    }
    rows = (
        Run.objects.filter(scored_at__isnull=False, finished_at__isnull=False)
        .alias(took=took)
        .values("endpoint_id")
        .annotate(count=Count("pk"), total=Sum("took"), **bounds)
        .values_list("endpoint_id", "count", "total", *bounds)
    )
    seconds = [(row[0], row[1], (row[2] or timedelta()).total_seconds(), *row[3:]) for row in rows]
    return _histogram(
        "tailwatch_scoring_duration_seconds",
        "Time from the end of a run's sampling to its stored scores, the wait for a scoring "
        "worker included.",
        endpoints,
        seconds,
        SCORING_BUCKETS,
    )
