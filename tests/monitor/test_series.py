"""Time series for charts: raw points when few, hourly or daily roll-ups merged when many."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitor.models import MetricPoint, Run
from monitor.selectors.series import SeriesPoint, metric_chart, metric_series
from monitor.services import rollups
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def endpoint():
    return make_endpoint("http://127.0.0.1:9/v1")


def add_points(endpoint, values, step=timedelta(minutes=5), start=START):
    # A run holds one point per metric, so each point gets a run of its own.
    runs = Run.objects.bulk_create(
        Run(
            endpoint=endpoint,
            prompt_set_version=endpoint.prompt_set.latest_version,
            trigger="schedule",
            samples_per_prompt=1,
        )
        for _ in values
    )
    MetricPoint.objects.bulk_create(
        MetricPoint(
            endpoint=endpoint,
            run=r,
            metric="distinct_2",
            value=v,
            ci_low=v - 0.01,
            ci_high=v + 0.01,
            n=10,
            time=start + i * step,
        )
        for i, (r, v) in enumerate(zip(runs, values, strict=True))
    )
    rollups.refresh(rollups.spans_of(MetricPoint.objects.filter(endpoint=endpoint)))


def test_few_points_come_back_raw_with_their_intervals(endpoint):
    add_points(endpoint, [0.5, 0.6, 0.7])
    series = metric_series(endpoint, "distinct_2")
    assert [p.value for p in series] == [0.5, 0.6, 0.7]
    assert series[0].low == pytest.approx(0.49) and series[0].run_id is not None
    assert series[1].time - series[0].time == 300


def test_many_points_are_drawn_from_their_hourly_rollups(endpoint):
    # Three days of five-minute points, each hour 0.0, 0.1, … 1.1: twelve points of mean 0.55.
    add_points(endpoint, [i % 12 / 10 for i in range(12 * 72)])
    series = metric_series(endpoint, "distinct_2", max_points=100)
    assert [p.time for p in series] == [int(START.timestamp()) + h * 3600 + 1800 for h in range(72)]
    assert {(p.count, p.low, p.high, p.run_id) for p in series} == {(12, 0.0, 1.1, None)}
    assert all(p.value == pytest.approx(0.55) for p in series)


def test_a_long_range_reads_a_bounded_number_of_daily_rollups(endpoint):
    # 400 days, four points a day, alternately a day of 0.25s and a day of 0.75s: too many days
    # for the chart's 300 points, so two days make a bucket.
    add_points(endpoint, [0.25 + 0.5 * (i // 4 % 2) for i in range(1600)], step=timedelta(hours=6))
    with CaptureQueriesContext(connection) as queries:
        series = metric_series(endpoint, "distinct_2", max_points=300)
    # The daily counts, then the buckets: neither reads a point.
    assert len(queries) == 2
    assert all("monitor_metricpoint" not in query["sql"] for query in queries)
    assert len(series) == 200
    assert {(p.count, p.low, p.high) for p in series} == {(8, 0.25, 0.75)}
    assert all(p.value == pytest.approx(0.5) for p in series)
    assert series[1].time - series[0].time == 2 * 86400


def test_a_time_range_limits_the_series(endpoint):
    add_points(endpoint, [0.1, 0.2, 0.3, 0.4], step=timedelta(days=1))
    series = metric_series(endpoint, "distinct_2", start=START + timedelta(days=1, hours=1))
    assert [p.value for p in series] == [0.3, 0.4]


def test_hours_are_merged_into_buckets_when_there_are_too_many(endpoint):
    # Points an hour apart in a day of 24 hours: with room for six points, four hours each.
    add_points(endpoint, [0.2, 0.8, 0.4, 0.6, 0.1, 0.3, 0.5, 0.9], step=timedelta(hours=1))
    add_points(endpoint, [0.7], start=START + timedelta(hours=13))
    series = metric_series(endpoint, "distinct_2", max_points=6)
    assert [(p.count, p.low, p.high) for p in series] == [
        (4, 0.2, 0.8),
        (4, 0.1, 0.9),
        (1, 0.7, 0.7),
    ]
    assert [p.value for p in series] == [pytest.approx(0.5), pytest.approx(0.45), 0.7]
    # Each bucket is drawn at its middle.
    start = int(START.timestamp())
    assert [p.time for p in series] == [start + h * 3600 for h in (2, 6, 14)]


def test_a_chart_gets_its_values_to_four_significant_digits():
    points = [SeriesPoint(0, 0.123456789, 0.1000004, None, 1), SeriesPoint(60, 12345.678, 2, 3, 1)]
    series = metric_chart("distinct_2", [("model-a", points)], [])["series"][0]
    assert series["v"] == [0.1235, 12350.0]
    assert series["lo"] == [0.1, 2.0] and series["hi"] == [None, 3.0]
