"""The alerts page, and the open alerts the overview and endpoint pages show."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from monitor.models import OPEN_ALERT_STATES, Alert, AlertEvent, AlertRule, AlertState, Endpoint
from monitor.selectors.length import alert_length_context


def worst_state(states: Iterable[str]) -> str:
    states = set(states)
    for state in (AlertState.FIRING, AlertState.PENDING):
        if state in states:
            return state
    return ""


def open_alerts(endpoint: Endpoint | None = None) -> list[Alert]:
    """Pending and firing alerts (of ``endpoint``, or of all), firing first, newest first."""
    alerts = Alert.objects.filter(state__in=OPEN_ALERT_STATES).select_related("rule", "endpoint")
    if endpoint is not None:
        alerts = alerts.filter(endpoint=endpoint)
    return sorted(alerts, key=lambda alert: (alert.state != AlertState.FIRING, -alert.pk))


def filtered_alerts(
    states: Iterable[str], severity: str = "", endpoint: Endpoint | None = None, metric: str = ""
) -> QuerySet[Alert]:
    """Alerts in ``states``, newest first, narrowed by the filters that are set."""
    alerts = Alert.objects.filter(state__in=list(states))
    if severity:
        alerts = alerts.filter(rule__severity=severity)
    if endpoint:
        alerts = alerts.filter(endpoint=endpoint)
    if metric:
        alerts = alerts.filter(rule__metric=metric)
    return alerts.select_related("rule", "endpoint", "acknowledged_by").order_by("-opened_at")


def alert_rules() -> QuerySet[AlertRule]:
    return AlertRule.objects.select_related("endpoint").prefetch_related("channels")


def with_length_context(alerts: Iterable[Alert]) -> list[Alert]:
    """``alerts`` as a list, each with ``length_context``: the line on its latest run's length
    against the baseline (see :func:`alert_length_context`), "" where there is nothing to say."""
    alerts = list(alerts)
    latest_runs = {}
    events = AlertEvent.objects.filter(alert__in=alerts, run__isnull=False).select_related(
        "run__endpoint__baseline_run"
    )
    for event in events.order_by("created_at", "pk"):
        latest_runs[event.alert_id] = event.run
    said: dict[tuple[int, str], str] = {}
    for alert in alerts:
        run = latest_runs.get(alert.pk)
        key = (run.pk if run else 0, alert.rule.kind, alert.rule.metric)
        if key not in said:
            said[key] = alert_length_context(alert.rule, run)
        alert.length_context = said[key]
    return alerts
