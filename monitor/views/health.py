"""Liveness for load balancers and uptime checks: the database answers, the workers keep up."""

from datetime import timedelta

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from monitor.models import Run, RunStatus


def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return JsonResponse({"ok": False, "database": str(exc)}, status=503)
    # Runs queued long ago and never taken up mean no worker is consuming the queue.
    stuck = Run.objects.filter(
        status=RunStatus.QUEUED, created_at__lt=timezone.now() - timedelta(minutes=10)
    ).count()
    return JsonResponse({"ok": True, "database": "ok", "runs_waiting_over_10_min": stuck})
