"""What ``/metrics`` exposes, read from the database at scrape time.

Workers sample and score in other processes (and on other hosts), so no in-process counter
would see their work: every figure here is computed from the tables when Prometheus scrapes,
in a fixed number of queries whatever the number of endpoints, reading runs (and the points of
each endpoint's latest run) but never the samples: their counters and latency buckets are kept
on each run when it finishes, and outlive the samples that retention deletes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import (
    BigIntegerField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from monitor.models import (
    ACTIVE_RUN_STATUSES,
    FINISHED_RUN_STATUSES,
    LATENCY_BOUNDS_MS,
    OPEN_ALERT_STATES,
    Alert,
    Endpoint,
    MetricPoint,
    Run,
)

ENDPOINT_LABELS = ["endpoint", "family", "version"]
# Seconds from the end of sampling to the stored scores, the time in the scoring queue included.
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
    """The metrics of each endpoint's latest scored run, with their 95% confidence intervals:
    one index lookup per endpoint for the run, then its points, however long the history."""
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
    newest_scored = Run.objects.scored().filter(endpoint=OuterRef("pk")).order_by("-created_at")
    latest_runs = Endpoint.objects.annotate(run_id=Subquery(newest_scored.values("pk")[:1]))
    points = MetricPoint.objects.filter(
        run_id__in=latest_runs.exclude(run_id=None).values("run_id")
    ).values_list("endpoint_id", "metric", "value", "ci_low", "ci_high")
    for endpoint_id, metric, point_value, ci_low, ci_high in points:
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


def _stored_count(path: str) -> Sum:
    """The sum over runs of a whole number kept in each run's ``latency_histogram``."""
    return Sum(Cast(KT(f"latency_histogram__{path}"), BigIntegerField()))


def _sample_latency(endpoints: dict[int, list[str]]) -> HistogramMetricFamily:
    """Added up by the database from each finished run's counts, kept on the run
    (``Run.latency_histogram``), so that a scrape reads one small row a run, not every sample."""
    at_most = {
        f"le_{index}": _stored_count(f"cumulative__{index}")
        for index in range(len(LATENCY_BOUNDS_MS))
    }
    rows = (
        # Counts kept under other bounds cannot be merged with these.
        Run.objects.filter(latency_histogram__bounds_ms=list(LATENCY_BOUNDS_MS))
        .values("endpoint_id")
        .annotate(count=_stored_count("count"), sum_ms=_stored_count("sum_ms"), **at_most)
        .values_list("endpoint_id", "count", "sum_ms", *at_most)
    )
    return _histogram(
        "tailwatch_sample_latency_seconds",
        "Time a model server took to answer one sample's request (retries included), over "
        "the samples of finished runs.",
        endpoints,
        [(row[0], row[1], row[2] / 1000, *row[3:]) for row in rows],
        [bound / 1000 for bound in LATENCY_BOUNDS_MS],
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
