"""The compare page's significance test as a background job: asked for once, computed once by a
worker, kept; a failure recorded with its reason; a test whose worker died queued again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor import queue, tasks
from monitor.models import Comparison, JobStatus
from monitor.services import comparison, comparison_jobs
from tests.factories import make_endpoint, make_prompt_set, make_scored_run

pytestmark = pytest.mark.django_db

GRACE_SECONDS = 600


@pytest.fixture
def runs(settings):
    """Two scored runs of one endpoint: a varied one, then a collapsed one."""
    settings.TAILWATCH_EMBEDDINGS = False
    settings.TAILWATCH_STAGE_GRACE_SECONDS = GRACE_SECONDS
    endpoint = make_endpoint(
        "http://127.0.0.1:9/v1",
        prompt_set=make_prompt_set(open_prompts=12, probes=0),
        samples_per_prompt=3,
    )
    return make_scored_run(endpoint, 1, 20_000), make_scored_run(endpoint, 2, 40)


@pytest.fixture
def queued(runs, enqueued, django_capture_on_commit_callbacks) -> Comparison:
    with django_capture_on_commit_callbacks(execute=True):
        requested = comparison_jobs.request(*runs)
    enqueued.clear()
    return requested


def test_a_test_asked_for_twice_is_queued_once_and_computed_once(
    runs, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = comparison_jobs.request(*runs)
        again = comparison_jobs.request(*runs)

    assert first == again and first.status == JobStatus.QUEUED
    assert enqueued == [(queue.COMPARE_RUNS, [first.pk])]
    assert tasks.compare_runs(first.pk) == JobStatus.SUCCEEDED
    first.refresh_from_db()
    assert first.result == comparison.significance(*runs)
    assert first.result["distinct_2_matched"]["significant"]
    assert first.attempts == 1 and first.finished_at is not None and first.lease_token == ""
    # A second delivery of the message finds the test done: nothing is computed again.
    assert tasks.compare_runs(first.pk) == "skipped"


def test_a_test_that_raises_is_failed_with_its_reason_and_can_be_queued_again(
    queued, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    def raises(*args):
        raise ValueError("the runs' samples were deleted")

    monkeypatch.setattr(comparison, "significance", raises)
    assert tasks.compare_runs(queued.pk) == JobStatus.FAILED
    queued.refresh_from_db()
    assert queued.error == "ValueError: the runs' samples were deleted"
    assert queued.progress == f"The significance test failed: {queued.error}"

    with django_capture_on_commit_callbacks(execute=True):
        assert comparison_jobs.retry(queued)
        assert not comparison_jobs.retry(queued)  # queued already: nothing to retry
    queued.refresh_from_db()
    assert (queued.status, queued.error, queued.attempts) == (JobStatus.QUEUED, "", 0)
    assert enqueued == [(queue.COMPARE_RUNS, [queued.pk])]


def test_a_test_whose_worker_died_is_queued_again_once_its_lease_lapses(queued, enqueued):
    died = comparison_jobs.claim(queued.pk, "killed worker")
    assert died.status == JobStatus.RUNNING
    assert comparison_jobs.claim(queued.pk, "another worker") is None  # the lease holds it
    assert comparison_jobs.requeue_stale() == []

    lapsed = timezone.now() + timedelta(seconds=GRACE_SECONDS + 1)
    assert comparison_jobs.requeue_stale(lapsed) == [queued]
    assert enqueued == [(queue.COMPARE_RUNS, [queued.pk])]
    assert comparison_jobs.claim(queued.pk, "next worker", lapsed).attempts == 2


def test_a_test_whose_message_was_lost_is_queued_again_by_the_dispatcher(queued, enqueued):
    Comparison.objects.filter(pk=queued.pk).update(
        queued_at=timezone.now() - timedelta(seconds=GRACE_SECONDS + 1)
    )
    assert tasks.dispatch_due_runs()["comparisons_requeued"] == [queued.pk]
    assert enqueued == [(queue.COMPARE_RUNS, [queued.pk])]
    # Just queued again: not again until another grace period has passed.
    assert comparison_jobs.requeue_stale() == []


def test_a_test_no_worker_finishes_is_given_up_with_the_reason(queued, enqueued):
    later = timezone.now()
    for _ in range(Comparison.MAX_ATTEMPTS):
        later += timedelta(seconds=GRACE_SECONDS + 1)
        assert comparison_jobs.claim(queued.pk, "a worker that dies", later) is not None

    later += timedelta(seconds=GRACE_SECONDS + 1)
    assert comparison_jobs.requeue_stale(later) == []
    queued.refresh_from_db()
    assert queued.status == JobStatus.FAILED and enqueued == []
    assert queued.error.startswith("gave up after 3 tries: no worker finished it")


def test_a_result_stands_even_from_a_worker_whose_lease_lapsed_but_not_its_failure(queued):
    slow = comparison_jobs.claim(queued.pk, "slow worker")
    lapsed = timezone.now() + timedelta(seconds=GRACE_SECONDS + 1)
    assert comparison_jobs.claim(queued.pk, "next worker", lapsed) is not None

    assert comparison_jobs.finish(slow, "slow worker", error="ZeroDivisionError").is_active
    result = {"distinct_2_matched": {"p_value": 0.001, "significant": True}}
    finished = comparison_jobs.finish(slow, "slow worker", result=result)
    assert finished.status == JobStatus.SUCCEEDED and finished.result == result


def test_a_run_is_not_tested_against_itself(runs):
    with pytest.raises(comparison_jobs.NotComparable, match="against itself"):
        comparison_jobs.request(runs[0], runs[0])
    assert not Comparison.objects.exists()


def test_no_more_tests_than_the_cap_wait_or_run_and_a_retry_counts_too(
    runs, settings, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    settings.TAILWATCH_MAX_ACTIVE_COMPARISONS = 1
    first, second = runs
    with django_capture_on_commit_callbacks(execute=True):
        held = comparison_jobs.request(first, second)
    with pytest.raises(comparison_jobs.TooManyTests, match="1 significance tests"):
        comparison_jobs.request(second, first)
    assert comparison_jobs.request(first, second) == held  # stored: answered as it stands

    monkeypatch.setattr(comparison, "significance", lambda *args: 1 / 0)
    assert tasks.compare_runs(held.pk) == JobStatus.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        other = comparison_jobs.request(second, first)  # the failed one holds no worker
    held.refresh_from_db()
    with pytest.raises(comparison_jobs.TooManyTests):
        comparison_jobs.retry(held)
    assert enqueued == [(queue.COMPARE_RUNS, [held.pk]), (queue.COMPARE_RUNS, [other.pk])]
