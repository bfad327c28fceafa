"""Roll-ups stay equal to the points they sum up: after scoring, rescoring, pruning and deleting."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.admin.sites import site
from django.core.management import call_command
from django.test import RequestFactory

from monitor.models import MetricPoint, MetricRollup, Run, Sample
from monitor.services import rollups, scoring
from tests.factories import english_texts, make_endpoint, make_finished_run, make_prompt_set

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def endpoint(settings):
    settings.TAILWATCH_EMBEDDINGS = False
    return make_endpoint(
        "http://127.0.0.1:9/v1",
        prompt_set=make_prompt_set(open_prompts=3, probes=1),
        samples_per_prompt=2,
    )


def scored_run(endpoint, seed: int, finished_at: datetime) -> Run:
    run = make_finished_run(endpoint, english_texts(seed, 1000, 4, 2))
    Run.objects.filter(pk=run.pk).update(finished_at=finished_at)
    return scoring.score_run(run.pk)


def by_hand(endpoint) -> dict:
    """Count, sum, lowest and highest value of the stored points per hour and per day."""
    values = defaultdict(list)
    for point in MetricPoint.objects.filter(endpoint=endpoint):
        hour = point.time.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        values["hour", point.metric, hour].append(point.value)
        values["day", point.metric, hour.replace(hour=0)].append(point.value)
    return {key: (len(v), sum(v), min(v), max(v)) for key, v in values.items()}


def stored(endpoint) -> dict:
    return {
        (r.granularity, r.metric, r.start): (r.count, r.total, r.low, r.high)
        for r in MetricRollup.objects.filter(endpoint=endpoint)
    }


def assert_rollups_match_the_points(endpoint) -> None:
    expected, actual = by_hand(endpoint), stored(endpoint)
    assert actual.keys() == expected.keys()
    for key, (count, total, low, high) in expected.items():
        assert actual[key] == (count, pytest.approx(total), low, high), key


def test_scoring_sums_the_points_up_per_hour_and_day(endpoint):
    first = scored_run(endpoint, 1, datetime(2026, 5, 1, 10, 5, tzinfo=UTC))
    second = scored_run(endpoint, 2, datetime(2026, 5, 1, 10, 40, tzinfo=UTC))
    scored_run(endpoint, 3, datetime(2026, 5, 1, 23, 59, tzinfo=UTC))

    assert_rollups_match_the_points(endpoint)
    values = [
        MetricPoint.objects.get(run=run, metric="distinct_2").value for run in (first, second)
    ]
    hour = MetricRollup.objects.get(
        endpoint=endpoint,
        granularity="hour",
        metric="distinct_2",
        start=datetime(2026, 5, 1, 10, tzinfo=UTC),
    )
    assert (hour.count, hour.low, hour.high) == (2, min(values), max(values))
    assert hour.total == pytest.approx(sum(values))
    day = MetricRollup.objects.get(
        endpoint=endpoint,
        granularity="day",
        metric="distinct_2",
        start=datetime(2026, 5, 1, tzinfo=UTC),
    )
    assert day.count == 3


def test_rescoring_replaces_the_runs_share_even_when_it_moves(endpoint):
    run = scored_run(endpoint, 1, datetime(2026, 5, 1, 10, 5, tzinfo=UTC))
    scored_run(endpoint, 2, datetime(2026, 5, 1, 10, 40, tzinfo=UTC))
    before = stored(endpoint)
    # New outputs give new values; the run now also counts a day later.
    for index, sample in enumerate(Sample.objects.filter(run=run)):
        Sample.objects.filter(pk=sample.pk).update(text=f"only {index % 2} words repeated " * 5)
    Run.objects.filter(pk=run.pk).update(finished_at=datetime(2026, 5, 2, 8, tzinfo=UTC))

    scoring.score_run(run.pk, again=True)

    assert stored(endpoint) != before
    assert_rollups_match_the_points(endpoint)
    assert {
        (r.granularity, r.start.day, r.count)
        for r in MetricRollup.objects.filter(endpoint=endpoint, metric="distinct_2")
    } == {("hour", 1, 1), ("hour", 2, 1), ("day", 1, 1), ("day", 2, 1)}


def test_prune_drops_the_pruned_points_sums_and_recounts_the_hour_it_cuts(endpoint):
    cutoff = NOW - timedelta(days=35)
    for seed, age in enumerate([timedelta(days=100), timedelta(minutes=10), -timedelta(minutes=5)]):
        scored_run(endpoint, seed, cutoff - age)
    with time_machine.travel(NOW, tick=False):
        call_command("prune", "--point-days", "35")

    assert_rollups_match_the_points(endpoint)
    hours = MetricRollup.objects.filter(endpoint=endpoint, granularity="hour", metric="distinct_2")
    assert [(r.start, r.count) for r in hours] == [(datetime(2026, 4, 27, 12, tzinfo=UTC), 1)]


def test_deleting_runs_and_points_in_the_admin_keeps_the_rollups(endpoint, admin_user):
    runs = [
        scored_run(endpoint, seed, datetime(2026, 5, 1, 10, 5 * seed, tzinfo=UTC))
        for seed in range(3)
    ]
    request = RequestFactory().post("/")
    request.user = admin_user
    site._registry[Run].delete_model(request, runs[0])
    site._registry[Run].delete_queryset(request, Run.objects.filter(pk=runs[1].pk))
    site._registry[MetricPoint].delete_queryset(
        request, MetricPoint.objects.filter(run=runs[2], metric="distinct_2")
    )

    assert_rollups_match_the_points(endpoint)
    assert not MetricRollup.objects.filter(metric="distinct_2").exists()
    assert MetricRollup.objects.filter(granularity="hour").count() > 0


def test_the_migration_sums_up_the_points_already_stored(endpoint):
    scored_run(endpoint, 1, datetime(2026, 5, 1, 10, 5, tzinfo=UTC))
    scored_run(endpoint, 2, datetime(2026, 5, 3, 9, tzinfo=UTC))
    MetricRollup.objects.all().delete()

    rollups.rebuild_all()

    assert_rollups_match_the_points(endpoint)
