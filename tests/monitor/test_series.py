"""Time series for charts: raw points when few, database-side bucket averages when many."""

from datetime import UTC, datetime, timedelta

import pytest

from monitor.models import MetricPoint, Run
from monitor.selectors.series import SeriesPoint, metric_chart, metric_series
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def endpoint():
    return make_endpoint("http://127.0.0.1:9/v1")


def add_points(endpoint, values, step=timedelta(minutes=5)):
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
            time=START + i * step,
        )
        for i, (r, v) in enumerate(zip(runs, values, strict=True))
    )


def test_few_points_come_back_raw_with_their_intervals(endpoint):
    add_points(endpoint, [0.5, 0.6, 0.7])
    series = metric_series(endpoint, "distinct_2")
    assert [p.value for p in series] == [0.5, 0.6, 0.7]
    assert series[0].low == pytest.approx(0.49) and series[0].run_id is not None
    assert series[1].time - series[0].time == 300


def test_many_points_are_averaged_into_buckets(endpoint):
    values = [i % 10 / 10 for i in range(1000)]  # 0.0 … 0.9 repeating
    add_points(endpoint, values)
    series = metric_series(endpoint, "distinct_2", max_points=100)
    assert len(series) <= 100
    assert sum(p.count for p in series) == 1000
    full = [p for p in series if p.count == 10]
    assert full and all(p.value == pytest.approx(0.45) for p in full)
    assert all(p.low == 0.0 and p.high == 0.9 and p.run_id is None for p in full)
    assert [p.time for p in series] == sorted(p.time for p in series)


def test_a_time_range_limits_the_series(endpoint):
    add_points(endpoint, [0.1, 0.2, 0.3, 0.4], step=timedelta(days=1))
    series = metric_series(endpoint, "distinct_2", start=START + timedelta(days=1, hours=1))
    assert [p.value for p in series] == [0.3, 0.4]


def test_each_bucket_holds_the_mean_min_and_max_of_its_points(endpoint):
    # Four points an hour apart, then four more: with room for two points, a bucket each.
    values = [0.2, 0.8, 0.4, 0.6, 0.1, 0.3, 0.5, 0.9]
    add_points(endpoint, values, step=timedelta(hours=1))
    series = metric_series(endpoint, "distinct_2", max_points=2)
    assert [(p.count, p.low, p.high) for p in series] == [(4, 0.2, 0.8), (4, 0.1, 0.9)]
    assert [p.value for p in series] == [pytest.approx(0.5), pytest.approx(0.45)]
    # Each bucket is drawn at its middle: 7 hours and a second span the grid, 4 hours each.
    width = (7 * 3600 + 1 + 1) // 2
    start = int(START.timestamp())
    assert [p.time for p in series] == [start + width // 2, start + width + width // 2]


def test_a_chart_gets_its_values_to_four_significant_digits():
    points = [SeriesPoint(0, 0.123456789, 0.1000004, None, 1), SeriesPoint(60, 12345.678, 2, 3, 1)]
    series = metric_chart("distinct_2", [("model-a", points)], [])["series"][0]
    assert series["v"] == [0.1235, 12350.0]
    assert series["lo"] == [0.1, 2.0] and series["hi"] == [None, 3.0]
