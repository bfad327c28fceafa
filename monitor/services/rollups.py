"""Roll-ups: each metric's points summed up per hour and per day, so that a chart of any range
reads a bounded number of rows (``monitor.selectors.series``).

They are derived data, recomputed in SQL from the points of the hours and days whose points
change, never added to in place (a deleted point's minimum cannot be taken back). Whatever writes
or deletes points does it inside ``kept_up_to_date``: scoring, rescoring, pruning, the admin.
Only the catalogue's metrics (``evaluators.METRICS``) are rolled up: the ones a chart can draw.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, models, transaction
from django.db.models import Count, Max, Min, QuerySet, Sum, Value
from django.db.models.functions import Trunc

from evaluators import METRIC_KEYS
from monitor.models import Endpoint, Granularity, MetricPoint, MetricRollup

COLUMNS = ("endpoint_id", "metric", "granularity", "start", "count", "total", "low", "high")


@dataclass(frozen=True)
class Span:
    """The time from ``first`` to ``last`` (both included) of one endpoint's points."""

    endpoint_id: int
    first: datetime
    last: datetime


def spans_of(points: QuerySet[MetricPoint]) -> list[Span]:
    """Per endpoint, the time from the first to the last of ``points``."""
    rows = (
        points.order_by()
        .values("endpoint")
        .annotate(first=Min("time"), last=Max("time"))
        .values_list("endpoint", "first", "last")
    )
    return [Span(*row) for row in rows]


@contextmanager
def kept_up_to_date(points: QuerySet[MetricPoint]) -> Iterator[list[Span]]:
    """Around a change to ``points`` (deleted, or replaced): the roll-ups of the hours and days
    they lay in are recomputed after it, in the same transaction. The caller adds to the list
    it is given the span of any points it writes elsewhere."""
    with transaction.atomic():
        spans = spans_of(points)
        yield spans
        refresh(spans)


def delete_points(points: QuerySet[MetricPoint]) -> int:
    """Delete ``points``, roll-ups kept right; how many were deleted."""
    with kept_up_to_date(points):
        deleted, _ = points.delete()
    return deleted


def refresh(spans: Iterable[Span]) -> None:
    """Recompute, from the points stored now, each endpoint's roll-ups of every hour and day
    from the first to the last moment its spans cover."""
    covered: dict[int, Span] = {}
    for span in spans:
        known = covered.get(span.endpoint_id, span)
        covered[span.endpoint_id] = Span(
            span.endpoint_id, min(known.first, span.first), max(known.last, span.last)
        )
    if not covered:
        return
    with transaction.atomic():
        # One refresh of an endpoint at a time (in the order of their ids, so two cannot wait
        # on each other): points another one committed meanwhile are then counted here. NO KEY:
        # runs and points may still be added for the endpoint meanwhile.
        list(
            Endpoint.objects.select_for_update(no_key=True)
            .filter(pk__in=covered)
            .order_by("pk")
            .values_list("pk")
        )
        for span in covered.values():
            _refresh_span(span)


def _refresh_span(span: Span) -> None:
    # Naming the metrics lets the database walk the (endpoint, metric, time) indexes over the
    # span alone, not over every point of the endpoint.
    rollups = MetricRollup.objects.filter(endpoint_id=span.endpoint_id, metric__in=METRIC_KEYS)
    first, end = _hours_or_days(span, Granularity.HOUR)
    rollups.filter(granularity=Granularity.HOUR, start__gte=first, start__lt=end).delete()
    points = MetricPoint.objects.filter(endpoint_id=span.endpoint_id, metric__in=METRIC_KEYS)
    _insert(hour_rows(points.filter(time__gte=first, time__lt=end)))
    first, end = _hours_or_days(span, Granularity.DAY)
    rollups.filter(granularity=Granularity.DAY, start__gte=first, start__lt=end).delete()
    hours = rollups.filter(granularity=Granularity.HOUR, start__gte=first, start__lt=end)
    _insert(day_rows(hours))


def _hours_or_days(span: Span, granularity: Granularity) -> tuple[datetime, datetime]:
    """The start of the span's first hour (or day), and the end of its last."""
    end = granularity.start_of(span.last) + timedelta(seconds=granularity.seconds)
    return granularity.start_of(span.first), end


def hour_rows(points: QuerySet) -> QuerySet:
    """``points`` summed up per endpoint, metric and hour, as the columns of a roll-up."""
    return (
        points.order_by()
        .annotate(bucket=Trunc("time", "hour", tzinfo=UTC))
        .values("endpoint", "metric", "bucket")
        .annotate(
            level=Value(Granularity.HOUR.value),
            n_points=Count("*"),
            sum=Sum("value"),
            lowest=Min("value"),
            highest=Max("value"),
        )
    )


def day_rows(hours: QuerySet) -> QuerySet:
    """Hourly roll-ups summed up per endpoint, metric and day, as the columns of a roll-up."""
    return (
        hours.order_by()
        .annotate(bucket=Trunc("start", "day", tzinfo=UTC))
        .values("endpoint", "metric", "bucket")
        .annotate(
            level=Value(Granularity.DAY.value),
            n_points=Sum("count"),
            sum=Sum("total"),
            lowest=Min("low"),
            highest=Max("high"),
        )
    )


def _insert(rows: QuerySet, model: type[models.Model] = MetricRollup) -> None:
    """INSERT … SELECT: the database sums the rows up and stores them, nothing passes through
    Python."""
    select, params = rows.values_list(
        "endpoint", "metric", "level", "bucket", "n_points", "sum", "lowest", "highest"
    ).query.sql_with_params()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(map(quote, COLUMNS))}) "
            f"{select}",
            params,
        )


def rebuild_all(point_model=MetricPoint, rollup_model=MetricRollup) -> None:
    """Every roll-up computed again from every point (the migration that adds them passes its
    own models)."""
    rollup_model.objects.all().delete()
    _insert(hour_rows(point_model.objects.filter(metric__in=METRIC_KEYS)), rollup_model)
    _insert(day_rows(rollup_model.objects.filter(granularity=Granularity.HOUR.value)), rollup_model)
