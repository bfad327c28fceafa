"""The lease of a background job (``LeasedJob``: a provenance scan, the compare page's
significance test), as a run's sampler holds its run (``services/sampling.py``) but without
stages.

A worker claims the job with a token of its own, which succeeds only while the job is queued or
its holder's lease has lapsed; only the holder finishes it. The dispatcher queues again the jobs
whose worker died (lease lapsed) or whose message was lost (still queued a stage's grace after
it was last queued), and gives up, with the reason, a job that ``MAX_ATTEMPTS`` workers took and
none finished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from monitor.models import ACTIVE_JOB_STATUSES, JobStatus, LeasedJob

log = logging.getLogger(__name__)

Job = TypeVar("Job", bound=LeasedJob)

RELEASED = {"lease_token": "", "lease_expires_at": None}


def claim(
    model: type[Job], pk: int, token: str, now: datetime | None = None, **extra
) -> Job | None:
    """Take the job for the worker with ``token`` (setting ``extra`` fields too), unless it is
    finished or a live worker holds it."""
    now = now or timezone.now()
    claimed = (
        model.objects.filter(pk=pk, status__in=ACTIVE_JOB_STATUSES)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            status=JobStatus.RUNNING,
            lease_token=token,
            lease_expires_at=now + model.lease_length(),
            started_at=now,
            attempts=F("attempts") + 1,
            **extra,
        )
    )
    return model.objects.get(pk=pk) if claimed else None


def finish(job: Job, token: str, error: str = "", result_stands: bool = False, **fields) -> Job:
    """Record the job succeeded (or failed, with ``error``) with ``fields``, and release it.

    Only the lease's holder finishes a job, except that with ``result_stands`` a result (not a
    failure) stands from whichever worker computed it while the job is unfinished: for a
    deterministic job, whose lease may lapse on a long call with no point at which to renew."""
    holder = (
        Q(status__in=ACTIVE_JOB_STATUSES) if result_stands and not error else Q(lease_token=token)
    )
    type(job).objects.filter(holder, pk=job.pk).update(
        status=JobStatus.FAILED if error else JobStatus.SUCCEEDED,
        error=error,
        finished_at=timezone.now(),
        **RELEASED,
        **fields,
    )
    job.refresh_from_db()
    return job


def requeue_stale(
    model: type[Job], publish: Callable[[int], bool], now: datetime | None = None
) -> list[Job]:
    """Queue again (with ``publish``) the jobs whose worker died or whose message was lost;
    give up those that ``model.MAX_ATTEMPTS`` workers took and none finished."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.TAILWATCH_STAGE_GRACE_SECONDS)
    stale = model.objects.alias(last_queued=Coalesce("queued_at", "created_at")).filter(
        Q(status=JobStatus.RUNNING, lease_expires_at__lt=now)
        # A job queued this long ago lost its message; a second message for a job a worker has
        # taken meanwhile finds nothing to do.
        | Q(status=JobStatus.QUEUED, last_queued__lt=now - grace)
    )
    requeued = []
    for job in stale:
        if job.attempts >= model.MAX_ATTEMPTS:
            _give_up(job, now)
            continue
        log.warning("re-queuing %s (worker stopped or message lost)", _name(job))
        if publish(job.pk):
            requeued.append(job)
    return requeued


def _give_up(job: LeasedJob, now: datetime) -> None:
    reason = (
        f"gave up after {job.attempts} tries: no worker finished it (a worker killed or "
        "out of memory; see the worker logs)."
    )
    log.error("%s: %s", _name(job), reason)
    type(job).objects.filter(pk=job.pk, status__in=ACTIVE_JOB_STATUSES).update(
        status=JobStatus.FAILED, error=reason, finished_at=now, **RELEASED
    )


def _name(job: LeasedJob) -> str:
    return f"{job._meta.verbose_name} {job.pk}"
