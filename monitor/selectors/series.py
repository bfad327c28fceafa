"""Metric series for charts, downsampled in the database, and the payload charts.js draws."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

from django.db.models import Avg, BigIntegerField, Count, Func, Max, Min, Value

from evaluators import METRICS
from monitor.models import Endpoint, MetricPoint
from monitor.selectors.metrics import metric_description, metric_label

CHART_POINTS = 300
# Significant digits of the values sent to a chart: finer than a chart can show, and a year's
# charts weigh (and render, escaped into the page) a third of what full floats do.
CHART_DIGITS = 4


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
        # date_part() gives a float; EXTRACT a numeric since PostgreSQL 14, several times slower
        # over a year of points.
        return self.as_sql(
            compiler, connection, template="CAST(date_part('epoch', %(expressions)s) AS BIGINT)"
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
    return metric_series_by_metric(endpoint, [metric], start, end, max_points).get(metric, [])


def metric_series_by_metric(
    endpoint: Endpoint,
    metrics: Iterable[str],
    start: datetime | None = None,
    end: datetime | None = None,
    max_points: int = 500,
) -> dict[str, list[SeriesPoint]]:
    """``metric_series`` of several metrics in three queries instead of three per metric: one
    counts each metric's points, one fetches the raw points of the metrics that fit, one buckets
    the rest on a time grid they share (so their charts line up)."""
    points = MetricPoint.objects.filter(endpoint=endpoint, metric__in=list(metrics))
    if start:
        points = points.filter(time__gte=start)
    if end:
        points = points.filter(time__lte=end)
    spans = {
        row["metric"]: row
        for row in points.values("metric").annotate(
            # COUNT(*), not of a column: the series index alone answers it.
            count=Count("*"),
            first=Min("time"),
            last=Max("time"),
        )
    }
    raw = [metric for metric, span in spans.items() if span["count"] <= max_points]
    series: dict[str, list[SeriesPoint]] = {metric: [] for metric in spans}
    for p in points.filter(metric__in=raw).order_by("time"):
        series[p.metric].append(
            SeriesPoint(int(p.time.timestamp()), p.value, p.ci_low, p.ci_high, 1, p.run_id)
        )
    bucketed = [metric for metric in spans if metric not in raw]
    if not bucketed:
        return series
    first = int(min(spans[metric]["first"] for metric in bucketed).timestamp())
    last = int(max(spans[metric]["last"] for metric in bucketed).timestamp())
    width = max(1, -(-(last - first + 1) // max_points))  # ceiling division
    # No ORDER BY: the database then groups by hashing, not by sorting every point.
    buckets = (
        points.filter(metric__in=bucketed)
        .annotate(bucket=(EpochSeconds("time") - Value(first)) / Value(width))
        .values("metric", "bucket")
        .annotate(mean=Avg("value"), low=Min("value"), high=Max("value"), count=Count("*"))
        .order_by()
        .values_list("metric", "bucket", "mean", "low", "high", "count")
    )
    for metric, bucket, mean, low, high, count in sorted(buckets, key=itemgetter(0, 1)):
        series[metric].append(
            SeriesPoint(first + bucket * width + width // 2, mean, low, high, count)
        )
    return series


def _drawn(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.{CHART_DIGITS}g}")


def _series_payload(points: list[SeriesPoint], label: str) -> dict:
    return {
        "label": label,
        "t": [point.time for point in points],
        "v": [_drawn(point.value) for point in points],
        "lo": [_drawn(point.low) for point in points],
        "hi": [_drawn(point.high) for point in points],
        "bucketed": any(point.count > 1 for point in points),
    }


def metric_chart(
    metric: str,
    lines: Iterable[tuple[str, list[SeriesPoint]]],
    markers: list[dict],
    baseline: float | None = None,
    baseline_run: int | None = None,
) -> dict:
    """One chart as charts.js draws it: a line per labelled series that has points, the
    metric's title and which way is worse, a dashed baseline when there is one, and markers."""
    return {
        "metric": metric,
        "title": metric_label(metric),
        "description": metric_description(metric),
        "higher_is_worse": METRICS[metric].higher_is_worse,
        "warning_sign": METRICS[metric].warning_sign,
        "series": [_series_payload(points, label) for label, points in lines if points],
        "baseline": baseline,
        "baseline_run": baseline_run,
        "markers": markers,
    }
