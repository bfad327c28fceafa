"""The deployment's split, on real processes against PostgreSQL and Redis: one worker per queue,
as deploy/systemd/ starts them on separate hosts, and a run flows through all of them."""

import re

import pytest
from django.conf import settings
from django.db import connection

from monitor.models import Alert, AlertRule, AlertState, MetricPoint, RuleKind, RunStatus
from tests.conftest import require_service, run_through_pipeline, wait_for
from tests.factories import make_endpoint
from tests.integration.conftest import FAST_WORKER

pytestmark = [pytest.mark.integration]

SUCCEEDED = re.compile(r"Task (monitor\.tasks\.\w+)\[[^\]]+\] succeeded")


def queue_worker(celery_processes, queue: str, pool: str, concurrency: int):
    """A worker on ``queue`` alone, started as the deployment's unit for that queue starts it."""
    return celery_processes.start(
        "worker",
        f"--queues={queue}",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        f"--hostname={queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
        **FAST_WORKER,
    )


@pytest.mark.timeout(300)
def test_a_run_is_sampled_scored_and_judged_each_by_the_worker_of_its_queue(
    celery_processes, fake_llm
):
    require_service("PostgreSQL", connection.vendor == "postgresql")
    require_service("Redis", settings.CELERY_BROKER_URL.startswith("redis://"))
    endpoint = make_endpoint(fake_llm.url)
    # Distinct bigrams are a share, never 2 or more: this rule fires on the first scored run.
    rule = AlertRule.objects.create(
        endpoint=endpoint, kind=RuleKind.THRESHOLD, metric="distinct_2", threshold=2.0
    )
    workers = {
        "sampling": queue_worker(celery_processes, "sampling", "threads", 4),
        "scoring": queue_worker(celery_processes, "scoring", "prefork", 2),
        "default": queue_worker(celery_processes, "default", "threads", 2),
    }

    run = run_through_pipeline(endpoint, timeout=240)

    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    assert run.scored_at is not None and not run.score_error
    assert MetricPoint.objects.filter(run=run, metric="distinct_2").exists()
    assert Alert.objects.get(rule=rule).state == AlertState.FIRING

    def tasks_done_by(queue: str) -> set[str]:
        return set(SUCCEEDED.findall(celery_processes.log(workers[queue])))

    expected = {
        "sampling": {"monitor.tasks.sample_run"},
        "scoring": {"monitor.tasks.score_run"},
        "default": {"monitor.tasks.evaluate_alerts"},
    }

    def every_step_logged():
        """each worker logged its step's success"""
        return all(expected[queue] <= tasks_done_by(queue) for queue in expected)

    wait_for(every_step_logged, timeout=60)
    assert {queue: tasks_done_by(queue) for queue in expected} == expected
    assert all(worker.poll() is None for worker in workers.values())
