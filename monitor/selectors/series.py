"""Metric series for charts, downsampled from hourly or daily roll-ups, and the payload charts.js
draws."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

from django.db import connection
from django.db.models import BigIntegerField, Func, Max, Min, QuerySet, Sum, Value

from evaluators import METRICS
from monitor.models import Endpoint, Granularity, MetricPoint, MetricRollup
from monitor.selectors.metrics import metric_description, metric_label

CHART_POINTS = 300
DAY = Granularity.DAY.seconds
# A chart reads hourly roll-ups while they are at most this many per point it draws (so a 30-day
# chart is drawn from hours, a year from days), daily ones past that: one row a day of the range.
ROLLUPS_PER_POINT = 4
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
    averaged in equal time buckets of whole hours or days, summed up by the database from the
    roll-ups, with each bucket's min and max as low/high, so a year of five-minute runs draws
    from a few hundred rows.
    """
    return metric_series_by_metric(endpoint, [metric], start, end, max_points).get(metric, [])


def metric_series_by_metric(
    endpoint: Endpoint,
    metrics: Iterable[str],
    start: datetime | None = None,
    end: datetime | None = None,
    max_points: int = 500,
) -> dict[str, list[SeriesPoint]]:
    """``metric_series`` of several metrics in three queries, none of which reads more than a
    bounded number of rows per metric, whatever the range: one counts each metric's points from
    its daily roll-ups, one fetches the raw points of the metrics that fit, and one reads the
    rest from hourly or daily roll-ups (whichever gives at most ``ROLLUPS_PER_POINT`` of them
    per chart point, daily past that), merged on a time grid the metrics share so that their
    charts line up. A bucket covers whole hours or days: the first and last may also hold points
    just outside the range."""
    spans = {
        metric: (count, first, last)
        for metric, count, first, last in _rollups(endpoint, metrics, Granularity.DAY, start, end)
        .values("metric")
        .annotate(count=Sum("count"), first=Min("start"), last=Max("start"))
        .values_list("metric", "count", "first", "last")
    }
    # The daily counts may include points just outside the range: raw points never exceed the cap.
    raw = [metric for metric, (count, _, _) in spans.items() if count <= max_points]
    series: dict[str, list[SeriesPoint]] = {metric: [] for metric in spans}
    points = MetricPoint.objects.filter(endpoint=endpoint, metric__in=raw)
    if start:
        points = points.filter(time__gte=start)
    if end:
        points = points.filter(time__lte=end)
    for p in points.order_by("time") if raw else []:
        series[p.metric].append(
            SeriesPoint(int(p.time.timestamp()), p.value, p.ci_low, p.ci_high, 1, p.run_id)
        )
    bucketed = {metric: span for metric, span in spans.items() if metric not in raw}
    if bucketed:
        series.update(_bucketed_series(endpoint, bucketed, start, end, max_points))
    return series


def _rollups(
    endpoint: Endpoint,
    metrics: Iterable[str],
    granularity: Granularity,
    start: datetime | None,
    end: datetime | None,
) -> QuerySet[MetricRollup]:
    """The endpoint's roll-ups of ``metrics`` at ``granularity`` of the hours or days that
    overlap the range."""
    rollups = MetricRollup.objects.filter(
        endpoint=endpoint, granularity=granularity, metric__in=list(metrics)
    )
    if start:
        rollups = rollups.filter(start__gte=granularity.start_of(start))
    if end:
        rollups = rollups.filter(start__lte=end)
    return rollups


def _bucketed_series(
    endpoint: Endpoint,
    spans: dict[str, tuple[int, datetime, datetime]],
    start: datetime | None,
    end: datetime | None,
    max_points: int,
) -> dict[str, list[SeriesPoint]]:
    """Each metric's roll-ups, several merged into one bucket where they would be more than
    ``max_points``: mean, lowest and highest value, and how many points it holds."""
    first = int(min(span[1] for span in spans.values()).timestamp())
    days = (int(max(span[2] for span in spans.values()).timestamp()) - first) // DAY + 1
    granularity = next(
        (
            granularity
            for granularity in Granularity
            if days * DAY // granularity.seconds <= ROLLUPS_PER_POINT * max_points
        ),
        Granularity.DAY,
    )
    units = days * DAY // granularity.seconds
    width = granularity.seconds * -(-units // max_points)  # ceiling division
    # No ORDER BY: the database then groups by hashing, not by sorting.
    buckets = (
        _rollups(endpoint, spans, granularity, start, end)
        .annotate(bucket=(EpochSeconds("start") - Value(first)) / Value(width))
        .values("metric", "bucket")
        .annotate(points=Sum("count"), sum=Sum("total"), lowest=Min("low"), highest=Max("high"))
        .order_by()
        .values_list("metric", "bucket", "points", "sum", "lowest", "highest")
    )
    with connection.cursor() as cursor:
        # The rows as the driver gives them (ints and floats already): the ORM's converters,
        # called once per value, cost more than the query.
        cursor.execute(*buckets.query.sql_with_params())
        rows = cursor.fetchall()
    series: dict[str, list[SeriesPoint]] = {metric: [] for metric in spans}
    for metric, bucket, count, total, low, high in sorted(rows, key=itemgetter(0, 1)):
        series[metric].append(
            SeriesPoint(first + bucket * width + width // 2, total / count, low, high, count)
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
