"""The compare page's significance test as a background job: ask for it, claim it, record it.

The test takes what scoring both runs does (minutes for large runs), so no web request runs it:
the page asks for a ``Comparison`` and a scoring worker computes it, once; the stored result
outlives restarts. A worker holds the comparison through a lease (``services/jobs.py``). The
test is one call with no point at which to renew the lease, so the lease covers a whole test:
``TAILWATCH_STAGE_GRACE_SECONDS``, the time every pipeline stage is given. When a worker dies
mid-test its lease lapses, and the dispatcher queues the test again (``requeue_stale``); a lost
message is queued again the same way. After ``Comparison.MAX_ATTEMPTS`` takes the test is
failed with the reason, and the page offers to try again.

Only a POST asks for a test (the page's script, once it opens), never a GET, and at most
``TAILWATCH_MAX_ACTIVE_COMPARISONS`` tests wait or run at once: each takes a scoring worker for
as long as scoring a run does, so an unbounded number would hold up the pipeline's scoring.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.conf import settings
from django.db import transaction

from monitor import queue
from monitor.models import ACTIVE_JOB_STATUSES, Comparison, JobStatus, Run
from monitor.services import comparison as significance_test
from monitor.services import jobs

log = logging.getLogger(__name__)


class NotComparable(ValueError):
    """Why the test of two runs cannot be made, in words for the user."""


class TooManyTests(RuntimeError):
    """As many tests as the scoring queue is allowed are already waiting or running."""


def stored(run_a: Run, run_b: Run) -> Comparison | None:
    """The page's test of B against A, if one was asked for."""
    return Comparison.objects.filter(
        run_a=run_a, run_b=run_b, permutations=significance_test.PAGE_PERMUTATIONS
    ).first()


def check_comparable(run_a: Run, run_b: Run) -> None:
    """Raise ``NotComparable`` unless the test of B against A can be made: two different
    scored runs with at least one tested metric in common."""
    if run_a.pk == run_b.pk:
        raise NotComparable("A run cannot be tested against itself: pick two different runs.")
    unscored = [run for run in (run_a, run_b) if run.report is None]
    if unscored:
        raise NotComparable(f"Run #{unscored[0].pk} is not scored (yet).")
    if not significance_test.tested_metrics(run_a, run_b):
        raise NotComparable(
            f"Runs #{run_a.pk} and #{run_b.pk} have no tested metric in common: "
            "they were scored with different settings."
        )


def _check_room() -> None:
    active = Comparison.objects.filter(status__in=ACTIVE_JOB_STATUSES).count()
    if active >= settings.TAILWATCH_MAX_ACTIVE_COMPARISONS:
        raise TooManyTests(
            f"{active} significance tests are already waiting for or running on a scoring "
            "worker, the most allowed at once: try again in a few minutes."
        )


def request(run_a: Run, run_b: Run) -> Comparison:
    """The page's test of B against A: the stored one as it stands, or a new one queued for a
    worker. Raises ``NotComparable`` for a pair that cannot be tested and ``TooManyTests``
    when the scoring queue already holds as many tests as allowed."""
    check_comparable(run_a, run_b)
    existing = stored(run_a, run_b)
    if existing is not None:
        return existing
    _check_room()
    comparison, created = Comparison.objects.get_or_create(
        run_a=run_a, run_b=run_b, permutations=significance_test.PAGE_PERMUTATIONS
    )
    if created:
        transaction.on_commit(lambda: queue.compare_runs(comparison.pk))
    return comparison


def retry(comparison: Comparison) -> bool:
    """Queue a failed test again, its takes counted afresh; False if it had not failed.
    Raises ``TooManyTests`` when the scoring queue already holds as many tests as allowed."""
    if comparison.status != JobStatus.FAILED:
        return False
    _check_room()
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
