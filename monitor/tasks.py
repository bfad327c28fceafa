"""Celery tasks: thin wrappers that take ids, call one service, and log the outcome."""

import logging

from celery import shared_task

from monitor.services import sampling

log = logging.getLogger(__name__)


@shared_task(name="monitor.tasks.dispatch_due_runs")
def dispatch_due_runs() -> dict[str, list[int]]:
    started = sampling.dispatch_due_runs()
    requeued = sampling.requeue_stale_runs()
    return {"started": [run.pk for run in started], "requeued": [run.pk for run in requeued]}


@shared_task(name="monitor.tasks.sample_run", acks_late=True)
def sample_run(run_id: int) -> str:
    run = sampling.sample_run(run_id)
    if run is None:
        log.info("run %s: nothing to do (finished, or another worker holds it)", run_id)
        return "skipped"
    return run.status
