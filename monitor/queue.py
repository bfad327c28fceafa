"""The one producer of broker messages: every pipeline step is queued here, by task name.

Services and tasks call these functions instead of importing ``monitor.tasks`` (which imports
the services), so there is no import cycle. Each step that follows a finished run stamps
``Run.stage_queued_at`` first: if the message is lost (a broker outage, a worker killed), the
dispatcher sees the stage has not moved and queues it again (``services/recovery.py``).
"""

from __future__ import annotations

from django.utils import timezone

from monitor.celery import app
from monitor.models import Run

SAMPLE_RUN = "monitor.tasks.sample_run"
SCORE_RUN = "monitor.tasks.score_run"
EVALUATE_ALERTS = "monitor.tasks.evaluate_alerts"
SEND_NOTIFICATION = "monitor.tasks.send_notification"
TRAIN_LAB_GENERATION = "monitor.tasks.train_lab_generation"


def sample_run(run_id: int) -> None:
    Run.objects.filter(pk=run_id).update(enqueued_at=timezone.now())
    app.send_task(SAMPLE_RUN, args=[run_id])


def score_run(run_id: int) -> None:
    Run.objects.filter(pk=run_id).update(stage_queued_at=timezone.now())
    app.send_task(SCORE_RUN, args=[run_id])


def evaluate_alerts(run_id: int) -> None:
    Run.objects.filter(pk=run_id).update(stage_queued_at=timezone.now())
    app.send_task(EVALUATE_ALERTS, args=[run_id])


def next_stage(run: Run) -> None:
    """Queue what a finished run needs next: scoring, or (nothing to score) the alert rules."""
    if run.is_scorable and (run.scored_at is None or run.awaits_baseline) and not run.score_error:
        score_run(run.pk)
    else:
        evaluate_alerts(run.pk)


def send_notification(notification_id: int) -> None:
    app.send_task(SEND_NOTIFICATION, args=[notification_id])


def train_lab_generation(arm: str, generation: int) -> None:
    app.send_task(TRAIN_LAB_GENERATION, args=[str(arm), generation])
