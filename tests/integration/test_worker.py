"""The pipeline on real Celery processes: worker and beat against the fake model over HTTP."""

import signal

import pytest

from monitor.models import Run, RunStatus, Sample
from monitor.services import sampling
from tests.conftest import wait_for
from tests.factories import make_endpoint, make_prompt_set

pytestmark = [pytest.mark.integration]

FAST_RETRIES = {"TAILWATCH_BACKOFF_BASE_SECONDS": "0.01"}


def finished(run: Run):
    def check():
        """the run finished"""
        run.refresh_from_db()
        return run.status not in (RunStatus.QUEUED, RunStatus.RUNNING)

    return check


def test_a_worker_completes_a_run_against_the_fake_model(celery_processes, fake_llm):
    celery_processes.worker(**FAST_RETRIES)
    run = sampling.start_run(make_endpoint(fake_llm.url))
    wait_for(finished(run), timeout=60)
    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    assert Sample.objects.filter(run=run, error="").count() == 6


def test_the_worker_retries_429_500_and_timeouts_and_records_a_malformed_body(
    celery_processes, fake_llm
):
    fake_llm.behaviour.malformed_next(1)
    fake_llm.behaviour.fail_next(1, status=429, retry_after=0)
    fake_llm.behaviour.fail_next(1, status=500)
    fake_llm.behaviour.hang_next(1, seconds=3)
    celery_processes.worker(**FAST_RETRIES)
    endpoint = make_endpoint(fake_llm.url, concurrency=1, timeout_seconds=1)

    run = sampling.start_run(endpoint)
    wait_for(finished(run), timeout=60)

    assert run.status == RunStatus.PARTIAL
    failed = Sample.objects.get(run=run, error_kind="malformed response")
    assert "not JSON" in failed.error
    retried = Sample.objects.get(run=run, attempts__gt=1)
    assert retried.ok and retried.attempts == 4  # 429, 500, timeout, then an answer
    assert (run.samples_succeeded, run.samples_failed) == (5, 1)


def test_a_run_is_resumed_after_its_worker_is_killed_without_duplicates(
    celery_processes, fake_llm, settings
):
    lease = {"TAILWATCH_RUN_LEASE_SECONDS": "2", **FAST_RETRIES}
    settings.TAILWATCH_RUN_LEASE_SECONDS = 2
    fake_llm.behaviour.latency = 0.2
    endpoint = make_endpoint(
        fake_llm.url,
        prompt_set=make_prompt_set(open_prompts=10, probes=10),
        samples_per_prompt=3,
        concurrency=2,
    )
    first = celery_processes.worker(**lease)
    run = sampling.start_run(endpoint)

    def some_samples_written():
        """the first worker wrote some samples"""
        return Sample.objects.filter(run=run).count() >= 6

    wait_for(some_samples_written, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait()
    written_before_kill = Sample.objects.filter(run=run).count()
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and written_before_kill < 60

    celery_processes.worker(**lease)

    def requeued():
        """the dispatcher handed the run on once its lease lapsed"""
        return sampling.requeue_stale_runs()

    wait_for(requeued, timeout=30, interval=0.5)
    wait_for(finished(run), timeout=90)

    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    assert run.attempts == 2
    samples = Sample.objects.filter(run=run)
    slots = list(samples.values_list("prompt_id", "sample_index"))
    assert len(slots) == len(set(slots)) == 60
    # the second worker asked only for what was missing (plus the requests in flight at the kill)
    assert fake_llm.behaviour.requests <= 60 + 2


def test_beat_schedules_runs_that_workers_complete(celery_processes, fake_llm):
    tick = {"TAILWATCH_DISPATCH_INTERVAL_SECONDS": "1", **FAST_RETRIES}
    endpoint = make_endpoint(fake_llm.url)
    celery_processes.worker(**tick)
    celery_processes.beat(**tick)

    def a_scheduled_run_finished():
        """beat dispatched a run and a worker finished it"""
        return endpoint.runs.filter(status=RunStatus.SUCCEEDED, trigger="schedule").first()

    run = wait_for(a_scheduled_run_finished, timeout=90, interval=0.5)
    assert run.samples_succeeded == 6
    endpoint.refresh_from_db()
    assert endpoint.next_run_at > run.created_at
