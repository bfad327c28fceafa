"""Recover: finished runs whose scoring or alert evaluation was lost are queued again.

A finished run moves on through messages (score, then evaluate). A message can be lost: the
broker was down as the run finished, the worker was killed mid-task, or the scorer ran out of
memory. Every queued stage stamps ``Run.stage_queued_at``; the dispatcher calls
``requeue_stalled_runs`` on every tick, which queues again each run whose stage has not moved
for ``TAILWATCH_STAGE_GRACE_SECONDS``. Both steps are idempotent (a scored run is not scored
again; each rule judges a run once), so a slow task that is only late does no harm. After
``MAX_STAGE_REQUEUES`` tries the run is given up, with the reason on its page.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models.functions import Coalesce
from django.utils import timezone

from monitor import queue
from monitor.models import Run, RunStage
from monitor.services import alerting, baselines

log = logging.getLogger(__name__)

MAX_STAGE_REQUEUES = 3


def requeue_stalled_runs(now: datetime | None = None) -> list[Run]:
    """Queue the next stage of every finished run that has been stuck for the grace period."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.TAILWATCH_STAGE_GRACE_SECONDS)
    stalled = (
        Run.objects.finished()
        .filter(alerts_evaluated_at__isnull=True, stage_error="")
        .alias(last_moved=Coalesce("stage_queued_at", "finished_at", "created_at"))
        .filter(last_moved__lt=cutoff)
        .select_related("endpoint")
        .order_by("created_at")
    )
    requeued = []
    for run in stalled:
        waiting_its_turn = run.is_ready_for_rules and alerting.earlier_runs_to_judge(run).exists()
        if waiting_its_turn or (run.awaits_baseline and baselines.awaits_baseline(run)):
            # Not stuck, waiting (for its baseline, or for an earlier run to be judged first):
            # look again after another grace period.
            Run.objects.filter(pk=run.pk).update(stage_queued_at=now)
            continue
        if run.stage_requeues >= MAX_STAGE_REQUEUES:
            _give_up(run)
            continue
        log.warning("run %s: %s stalled, queuing it again", run.pk, run.stage.label)
        Run.objects.filter(pk=run.pk).update(stage_requeues=run.stage_requeues + 1)
        queue.next_stage(run)
        requeued.append(run)
    return requeued


def _give_up(run: Run) -> None:
    step = "scoring" if run.stage == RunStage.SAMPLED else "checking the alert rules"
    minutes = settings.TAILWATCH_STAGE_GRACE_SECONDS // 60
    reason = (
        f"gave up {step} after {MAX_STAGE_REQUEUES + 1} tries {minutes} min apart: no worker "
        "finished it (a worker killed or out of memory, or the queue far behind; see the "
        "worker logs). It still completes if a worker gets to it."
    )
    log.error("run %s: %s", run.pk, reason)
    Run.objects.filter(pk=run.pk).update(stage_error=reason)
