"""Celery tasks: thin wrappers that take ids, call one service, and queue the next step.

dispatch_due_runs → sample_run → score_run → evaluate_alerts → send_notification

Beside the pipeline, ``run_scan`` runs a provenance scan of an uploaded corpus,
``compare_runs`` computes the compare page's significance test, and
``train_lab_generation`` trains the collapse lab's generations that
``/lab/v1`` was asked for, so no web request ever trains one.

Every message is produced by ``monitor.queue``; the dispatcher also recovers what a lost
message or a dead worker left behind (runs, their scoring and evaluation, notifications).
"""

import logging

from celery import shared_task
from django.conf import settings

from monitor import queue
from monitor.models import DispatcherTick, NotificationStatus
from monitor.notifications import delivery
from monitor.services import (
    alerting,
    baselines,
    comparison_jobs,
    recovery,
    sampling,
    scans,
    scoring,
    served_lab,
)

log = logging.getLogger(__name__)


@shared_task(name="monitor.tasks.dispatch_due_runs")
def dispatch_due_runs() -> dict[str, list[int]]:
    started = sampling.dispatch_due_runs()
    requeued = sampling.requeue_stale_runs()
    stalled = recovery.requeue_stalled_runs()
    notifications = delivery.recover_stale()
    scans_requeued = scans.requeue_stale_scans()
    comparisons = comparison_jobs.requeue_stale()
    # Only a tick that got through every step counts: /healthz says not ok once it is old.
    DispatcherTick.record()
    return {
        "started": [run.pk for run in started],
        "requeued": [run.pk for run in requeued],
        "stalled_requeued": [run.pk for run in stalled],
        "notifications_requeued": [notification.pk for notification in notifications],
        "scans_requeued": [scan.pk for scan in scans_requeued],
        "comparisons_requeued": [comparison.pk for comparison in comparisons],
    }


@shared_task(name="monitor.tasks.sample_run", acks_late=True)
def sample_run(run_id: int) -> str:
    run = sampling.sample_run(run_id)
    if run is None:
        log.info("run %s: nothing to do (finished, or another worker holds it)", run_id)
        return "skipped"
    queue.next_stage(run)
    return run.status


@shared_task(name="monitor.tasks.score_run", acks_late=True)
def score_run(run_id: int) -> str:
    try:
        run = scoring.score_run(run_id)
    except scoring.RunNotScorableError as exc:
        log.warning("run %s not scored: %s", run_id, exc)
        result = "not scored"
    else:
        result = "waiting for baseline" if run.awaits_baseline else "scored"
        # Versions scored before this run's endpoint had a good run can now be compared.
        for waiting in baselines.runs_awaiting(run):
            queue.score_run(waiting.pk)
    queue.evaluate_alerts(run_id)
    return result


@shared_task(name="monitor.tasks.evaluate_alerts", acks_late=True)
def evaluate_alerts(run_id: int) -> list[str]:
    events = alerting.evaluate_run(run_id)
    # A later run of the endpoint that waited for this one's verdicts is judged next.
    later = alerting.next_to_judge(run_id)
    if later is not None:
        queue.evaluate_alerts(later.pk)
    return [f"{event.alert_id}:{event.kind}" for event in events]


@shared_task(name="monitor.tasks.send_notification", bind=True, acks_late=True, max_retries=None)
def send_notification(self, notification_id: int) -> str:
    notification = delivery.send_notification(notification_id)
    if notification is None:
        return "already claimed"
    if notification.status == NotificationStatus.PENDING:
        # A transient failure: try again later, backing off (30 s, 60 s, 120 s, … by default).
        backoff = settings.TAILWATCH_NOTIFY_RETRY_SECONDS * 2 ** (notification.attempts - 1)
        raise self.retry(countdown=min(3600.0, backoff))
    return notification.status


@shared_task(name="monitor.tasks.run_scan", acks_late=True)
def run_scan(scan_id: int) -> str:
    scan = scans.run_scan(scan_id)
    return "skipped" if scan is None else scan.status


@shared_task(name="monitor.tasks.compare_runs", acks_late=True)
def compare_runs(comparison_id: int) -> str:
    comparison = comparison_jobs.run_comparison(comparison_id)
    if comparison is None:
        log.info(
            "comparison %s: nothing to do (finished, or another worker holds it)", comparison_id
        )
        return "skipped"
    return comparison.status


@shared_task(name="monitor.tasks.train_lab_generation", acks_late=True)
def train_lab_generation(arm: str, generation: int) -> str:
    served_lab.train_generation(arm, generation)
    return "trained"
