"""The compare page's significance test as a background job: ask for it, claim it, record it.

The test takes what scoring both runs does (minutes for large runs), so no web request runs it:
the page asks for a ``Comparison`` and a scoring worker computes it, once; the stored result
outlives restarts. A worker holds the comparison through a lease (``lease_token``,
``lease_expires_at``), as a sampler holds its run (``services/sampling.py``). The test is one
call with no point at which to renew the lease, so the lease covers a whole test:
``TAILWATCH_STAGE_GRACE_SECONDS``, the time every pipeline stage is given. When a worker dies
mid-test its lease lapses, and the dispatcher queues the test again (``requeue_stale``); a lost
message is queued again the same way. After ``MAX_ATTEMPTS`` takes the test is failed with the
reason, and the page offers to try again.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from monitor import queue
from monitor.models import ACTIVE_COMPARISON_STATUSES, Comparison, ComparisonStatus, Run
from monitor.services import comparison as significance_test

log = logging.getLogger(__name__)

# A test whose workers keep dying (out of memory on a huge pair, say) is given up after this
# many takes; a retry from the page counts afresh.
MAX_ATTEMPTS = 3


def _lease_length() -> timedelta:
    return timedelta(seconds=settings.TAILWATCH_STAGE_GRACE_SECONDS)


def request(run_a: Run, run_b: Run) -> Comparison:
    """The page's test of B against A: the stored one, or a new one queued for a worker."""
    comparison, created = Comparison.objects.get_or_create(
        run_a=run_a, run_b=run_b, permutations=significance_test.PAGE_PERMUTATIONS
    )
    if created:
        transaction.on_commit(lambda: queue.compare_runs(comparison.pk))
    return comparison


def retry(comparison: Comparison) -> bool:
    """Queue a failed test again, its takes counted afresh; False if it had not failed."""
    reset = Comparison.objects.filter(pk=comparison.pk, status=ComparisonStatus.FAILED).update(
        status=ComparisonStatus.QUEUED, error="", attempts=0, finished_at=None
    )
    if reset:
        transaction.on_commit(lambda: queue.compare_runs(comparison.pk))
    return bool(reset)


def claim(comparison_id: int, token: str, now: datetime | None = None) -> Comparison | None:
    """Take the test for this worker, unless it is finished or another live worker holds it."""
    now = now or timezone.now()
    claimed = (
        Comparison.objects.filter(pk=comparison_id, status__in=ACTIVE_COMPARISON_STATUSES)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            status=ComparisonStatus.RUNNING,
            lease_token=token,
            lease_expires_at=now + _lease_length(),
            started_at=now,
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    return Comparison.objects.select_related("run_a", "run_b").get(pk=comparison_id)


def run_comparison(comparison_id: int) -> Comparison | None:
    """Compute the test and store its result, or why it failed. None when there was nothing to
    do (finished, or held by a live worker)."""
    token = uuid.uuid4().hex
    comparison = claim(comparison_id, token)
    if comparison is None:
        return None
    try:
        result = significance_test.significance(
            comparison.run_a, comparison.run_b, comparison.permutations
        )
    except Exception as exc:
        # Runs scored by an older release, or samples deleted since: the page shows why, and a
        # worker goes on with its next message.
        log.exception("comparison %s failed", comparison.pk)
        return finish(comparison, token, error=f"{type(exc).__name__}: {exc}")
    return finish(comparison, token, result=result)


def finish(
    comparison: Comparison, token: str, result: dict | None = None, error: str = ""
) -> Comparison:
    """Store the test's result, or why it failed, and release the lease."""
    # The test is deterministic: a result stands whichever worker computed it, even one whose
    # lease lapsed on a test longer than the lease; a failure only from the lease's holder.
    holder = Q(lease_token=token) if error else Q(status__in=ACTIVE_COMPARISON_STATUSES)
    Comparison.objects.filter(holder, pk=comparison.pk).update(
        status=ComparisonStatus.FAILED if error else ComparisonStatus.DONE,
        result=result,
        error=error,
        finished_at=timezone.now(),
        lease_token="",
        lease_expires_at=None,
    )
    comparison.refresh_from_db()
    return comparison


def requeue_stale(now: datetime | None = None) -> list[Comparison]:
    """Queue again the tests whose worker died (lease lapsed) or whose message was lost; give
    up those that ``MAX_ATTEMPTS`` workers took and none finished."""
    now = now or timezone.now()
    cutoff = now - _lease_length()
    stale = (
        Comparison.objects.filter(status__in=ACTIVE_COMPARISON_STATUSES)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .alias(last_queued=Coalesce("queued_at", "created_at"))
        .filter(last_queued__lt=cutoff)
    )
    requeued = []
    for comparison in stale:
        if comparison.attempts >= MAX_ATTEMPTS:
            _give_up(comparison, now)
            continue
        log.warning("re-queuing comparison %s (worker stopped or message lost)", comparison.pk)
        queue.compare_runs(comparison.pk)
        requeued.append(comparison)
    return requeued


def _give_up(comparison: Comparison, now: datetime) -> None:
    reason = (
        f"gave up after {comparison.attempts} tries: no worker finished it (a worker killed or "
        "out of memory; see the worker logs)."
    )
    log.error("comparison %s: %s", comparison.pk, reason)
    Comparison.objects.filter(pk=comparison.pk, status__in=ACTIVE_COMPARISON_STATUSES).update(
        status=ComparisonStatus.FAILED,
        error=reason,
        finished_at=now,
        lease_token="",
        lease_expires_at=None,
    )
