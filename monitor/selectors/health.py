"""What /healthz judges: the database answers, and nothing in the pipeline has stood still.

Each check says whether it is ok and shows the figures it judged. A check fails when something
has waited longer than its limit (settings ``TAILWATCH_HEALTH_*``): the dispatcher has not
finished a tick, an enabled endpoint was due and not scheduled, a run has no worker on it, a
finished run is unscored, a notification is unsent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from monitor.models import (
    SCORABLE_RUN_STATUSES,
    DispatcherTick,
    Endpoint,
    Notification,
    NotificationStatus,
    Run,
    RunStatus,
)

# A failing check names this many of the rows it found, enough to start looking.
LISTED = 10


def health_checks(now: datetime | None = None) -> dict[str, dict]:
    """Each check by name: {"ok": bool, ...the figures it judged}."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        # Every other check reads the database: with it down, only this one can be told.
        return {"database": {"ok": False, "error": str(exc)}}
    now = now or timezone.now()
    return {
        "database": {"ok": True},
        "dispatcher": _dispatcher(now),
        "overdue_endpoints": _overdue_endpoints(now),
        "stuck_runs": _stuck_runs(now),
        "unscored_runs": _unscored_runs(now),
        "unsent_notifications": _unsent_notifications(now),
    }


def _before(now: datetime, seconds: int) -> datetime:
    return now - timedelta(seconds=seconds)


def _listed(rows: QuerySet, field: str = "pk") -> dict:
    first = list(rows.values_list(field, flat=True)[:LISTED])
    return {"ok": not first, "count": rows.count() if first else 0, "first": first}


def _dispatcher(now: datetime) -> dict:
    last_tick = DispatcherTick.last()
    limit = settings.TAILWATCH_HEALTH_TICK_SECONDS
    return {
        "ok": last_tick is not None and last_tick >= _before(now, limit),
        "last_tick": last_tick.isoformat() if last_tick else None,
        "limit_seconds": limit,
    }


def _overdue_endpoints(now: datetime) -> dict:
    cutoff = _before(now, settings.TAILWATCH_HEALTH_TICK_SECONDS)
    overdue = Endpoint.objects.filter(enabled=True, prompt_set__isnull=False).filter(
        Q(next_run_at__lt=cutoff) | Q(next_run_at__isnull=True, created_at__lt=cutoff)
    )
    return _listed(overdue.order_by("name"), "name")


def _stuck_runs(now: datetime) -> dict:
    cutoff = _before(now, settings.TAILWATCH_HEALTH_STUCK_RUN_SECONDS)
    stuck = Run.objects.filter(
        Q(status=RunStatus.RUNNING, lease_expires_at__lt=cutoff)
        | Q(status=RunStatus.QUEUED, created_at__lt=cutoff)
    )
    return _listed(stuck.order_by("created_at"))


def _unscored_runs(now: datetime) -> dict:
    # A run the pipeline gave up on says why on its page; this check is about runs still waiting.
    unscored = Run.objects.filter(
        status__in=SCORABLE_RUN_STATUSES,
        scored_at__isnull=True,
        score_error="",
        stage_error="",
        finished_at__lt=_before(now, settings.TAILWATCH_HEALTH_UNSCORED_RUN_SECONDS),
    )
    return _listed(unscored.order_by("finished_at"))


def _unsent_notifications(now: datetime) -> dict:
    unsent = Notification.objects.filter(
        status__in=(NotificationStatus.PENDING, NotificationStatus.SENDING),
        created_at__lt=_before(now, settings.TAILWATCH_HEALTH_UNSENT_NOTIFICATION_SECONDS),
    )
    return _listed(unsent.order_by("created_at"))
