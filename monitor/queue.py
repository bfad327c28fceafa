"""The one producer of broker messages: every pipeline step is queued here, by task name.

Services and tasks call these functions instead of importing ``monitor.tasks`` (which imports
the services), so there is no import cycle. Each step that follows a finished run stamps
``Run.stage_queued_at`` first: if the message is lost (a broker outage, a worker killed), the
dispatcher sees the stage has not moved and queues it again (``services/recovery.py``).

A message the broker cannot take (it is down, retries included) is lost the same way: it is
logged, never raised, so that neither a page nor a task fails on an outage, and the dispatcher
queues the step again once the broker is back. A run's ``enqueued_at`` is stamped only once its
message is out: a queued run without it is waiting for the broker.
"""

from __future__ import annotations

import logging

from django.utils import timezone
from kombu.exceptions import OperationalError

from monitor.celery import app
from monitor.models import Comparison, Run, Scan

SAMPLE_RUN = "monitor.tasks.sample_run"
SCORE_RUN = "monitor.tasks.score_run"
EVALUATE_ALERTS = "monitor.tasks.evaluate_alerts"
SEND_NOTIFICATION = "monitor.tasks.send_notification"
TRAIN_LAB_GENERATION = "monitor.tasks.train_lab_generation"
RUN_SCAN = "monitor.tasks.run_scan"
COMPARE_RUNS = "monitor.tasks.compare_runs"

log = logging.getLogger(__name__)


def _publish(task_name: str, *args: int | str) -> bool:
    """Send the message; False (logged) when the broker cannot be reached."""
    try:
        app.send_task(task_name, args=list(args))
    except OperationalError as exc:
        log.warning("broker unreachable, %s%r left to the dispatcher: %r", task_name, args, exc)
        return False
    return True


def sample_run(run_id: int) -> bool:
    """Queue the run's sampling; False when the broker is down (the dispatcher retries)."""
    if not _publish(SAMPLE_RUN, run_id):
        return False
    Run.objects.filter(pk=run_id).update(enqueued_at=timezone.now())
    return True


def score_run(run_id: int) -> None:
    Run.objects.filter(pk=run_id).update(stage_queued_at=timezone.now())
    _publish(SCORE_RUN, run_id)


def evaluate_alerts(run_id: int) -> None:
    Run.objects.filter(pk=run_id).update(stage_queued_at=timezone.now())
    _publish(EVALUATE_ALERTS, run_id)


def next_stage(run: Run) -> None:
    """Queue what a finished run needs next: scoring, or (nothing to score) the alert rules."""
    if run.is_scorable and (run.scored_at is None or run.awaits_baseline) and not run.score_error:
        score_run(run.pk)
    else:
        evaluate_alerts(run.pk)


def send_notification(notification_id: int) -> None:
    _publish(SEND_NOTIFICATION, notification_id)


def train_lab_generation(arm: str, generation: int) -> bool:
    return _publish(TRAIN_LAB_GENERATION, str(arm), generation)


def run_scan(scan_id: int) -> bool:
    """Queue a provenance scan; the dispatcher queues it again if the message is lost
    (``services/jobs.py``)."""
    Scan.objects.filter(pk=scan_id).update(queued_at=timezone.now())
    return _publish(RUN_SCAN, scan_id)


def compare_runs(comparison_id: int) -> bool:
    """Queue the compare page's significance test; the dispatcher queues it again if the
    message is lost (``services/jobs.py``)."""
    Comparison.objects.filter(pk=comparison_id).update(queued_at=timezone.now())
    return _publish(COMPARE_RUNS, comparison_id)
