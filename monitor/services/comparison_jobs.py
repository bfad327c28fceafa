"""The compare page's significance test as a background job: ask for it, claim it, record it.

The test takes what scoring both runs does (minutes for large runs), so no web request runs it:
the page asks for a ``Comparison`` and a scoring worker computes it, once; the stored result
outlives restarts. A worker holds the comparison through a lease (``services/jobs.py``). The
test is one call with no point at which to renew the lease, so the lease covers a whole test:
``TAILWATCH_STAGE_GRACE_SECONDS``, the time every pipeline stage is given. When a worker dies
mid-test its lease lapses, and the dispatcher queues the test again (``requeue_stale``); a lost
message is queued again the same way. After ``Comparison.MAX_ATTEMPTS`` takes the test is
failed with the reason, and the page offers to try again.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db import transaction

from monitor import queue
from monitor.models import Comparison, JobStatus, Run
from monitor.services import comparison as significance_test
from monitor.services import jobs

log = logging.getLogger(__name__)


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
    reset = Comparison.objects.filter(pk=comparison.pk, status=JobStatus.FAILED).update(
        status=JobStatus.QUEUED, error="", attempts=0, finished_at=None
    )
    if reset:
        transaction.on_commit(lambda: queue.compare_runs(comparison.pk))
    return bool(reset)


def claim(comparison_id: int, token: str, now: datetime | None = None) -> Comparison | None:
    """Take the test for this worker, unless it is finished or another live worker holds it."""
    return jobs.claim(Comparison, comparison_id, token, now)


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
    """Store the test's result, or why it failed, and release the lease. The test is
    deterministic: a result stands whichever worker computed it, even one whose lease lapsed on
    a test longer than the lease; a failure only from the lease's holder."""
    return jobs.finish(comparison, token, error=error, result_stands=True, result=result)


def requeue_stale(now: datetime | None = None) -> list[Comparison]:
    """Queue again the tests whose worker died (lease lapsed) or whose message was lost; give
    up those that ``Comparison.MAX_ATTEMPTS`` workers took and none finished."""
    return jobs.requeue_stale(Comparison, queue.compare_runs, now)
