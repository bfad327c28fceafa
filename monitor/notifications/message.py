"""Message: what a notification says, rendered once for any channel.

An alert event becomes a subject, plain-text and HTML parts (from the ``monitor/email``
templates), a chart of the metric's recent values, and a JSON payload for webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string

from evaluators import METRICS, is_correct
from monitor.charts import series_png
from monitor.models import (
    AlertEvent,
    Channel,
    EventKind,
    MetricPoint,
    RuleKind,
)
from monitor.services.baselines import baseline_for

CHART_CID = "series-chart"
SERIES_LENGTH = 30
TELLING_SAMPLES = 3
VERBS = {
    EventKind.FIRED: "is firing",
    EventKind.REMINDER: "is still firing",
    EventKind.RESOLVED: "resolved",
}


@dataclass
class Message:
    """What a notification says, rendered once for any channel."""

    subject: str
    text: str
    html: str
    chart_png: bytes | None
    payload: dict


def build_message(event: AlertEvent) -> Message:
    """What ``event`` says: subject, text and HTML with its chart, and the webhook payload."""
    alert, rule, endpoint = event.alert, event.alert.rule, event.alert.endpoint
    points = series_points(event)
    chart = series_chart(points, alert.baseline_value)
    verb = VERBS.get(event.kind, event.get_kind_display().lower())
    subject = f"[Tailwatch {rule.get_severity_display()}] {endpoint.name}: {rule} {verb}"
    url = settings.SITE_URL + endpoint.get_absolute_url()
    context = template_context(event, points, verb, url, has_chart=chart is not None)
    return Message(
        subject=subject,
        text=render_to_string("monitor/email/alert.txt", context),
        html=render_to_string("monitor/email/alert.html", context),
        chart_png=chart,
        payload=webhook_payload(event, subject, url),
    )


def series_points(event: AlertEvent) -> list[MetricPoint]:
    """The endpoint's last ``SERIES_LENGTH`` points of the rule's metric, oldest first."""
    rule = event.alert.rule
    if not rule.metric:
        return []
    latest = MetricPoint.objects.filter(endpoint=event.alert.endpoint, metric=rule.metric)
    return list(reversed(latest.order_by("-time")[:SERIES_LENGTH]))


def series_chart(points: list[MetricPoint], baseline_value: float | None) -> bytes | None:
    """The series as a PNG with its CI band and the baseline; None with fewer than 2 points."""
    if len(points) < 2:
        return None
    return series_png(
        [p.value for p in points],
        [p.ci_low for p in points],
        [p.ci_high for p in points],
        baseline_value,
    )


def baseline_point(event: AlertEvent) -> MetricPoint | None:
    """For a drop rule, the baseline run's value of the metric the run was compared with."""
    rule = event.alert.rule
    if rule.kind != RuleKind.DROP or event.run is None:
        return None
    return MetricPoint.objects.filter(run=baseline_for(event.run), metric=rule.metric).first()


def template_context(
    event: AlertEvent, points: list[MetricPoint], verb: str, url: str, has_chart: bool
) -> dict:
    """What the email templates show about ``event``."""
    alert = event.alert
    return {
        "event": event,
        "alert": alert,
        "rule": alert.rule,
        "endpoint": alert.endpoint,
        "verb": verb,
        "url": url,
        "run_url": settings.SITE_URL + event.run.get_absolute_url() if event.run else "",
        "current": next((p for p in points if event.run_id and p.run_id == event.run_id), None),
        "baseline_point": baseline_point(event),
        "samples": telling_samples(event) if event.kind != EventKind.RESOLVED else [],
        "chart_cid": CHART_CID if has_chart else None,
    }


def webhook_payload(event: AlertEvent, subject: str, url: str) -> dict:
    """The JSON a webhook receives: a Slack-compatible ``text`` plus the alert's figures."""
    alert, rule, endpoint = event.alert, event.alert.rule, event.alert.endpoint
    return {
        "text": f"{subject}\n{alert.summary}\n{url}",
        "event": event.kind,
        "severity": rule.severity,
        "endpoint": endpoint.name,
        "model_family": endpoint.model_family,
        "version": endpoint.version_label,
        "rule": str(rule),
        "metric": rule.metric or None,
        "value": alert.value,
        "baseline": alert.baseline_value,
        "p_value": alert.p_value,
        "summary": alert.summary,
        "run": event.run_id,
        "url": url,
        "time": event.created_at.isoformat(),
    }


def telling_samples(event: AlertEvent) -> list[dict]:
    """The outputs that show the problem best: the prompts with the worst per-prompt value of
    the alert's metric in the run, one output each (a wrong one, for accuracy metrics)."""
    run, metric = event.run, event.alert.rule.metric
    if run is None or not run.report or not metric:
        return []
    per_prompt = {
        key: entry["metrics"][metric]
        for key, entry in run.report.get("prompts", {}).items()
        if metric in entry.get("metrics", {})
    }
    worst_first = sorted(per_prompt, key=per_prompt.get, reverse=METRICS[metric].higher_is_worse)
    chosen = []
    for key in worst_first[:TELLING_SAMPLES]:
        samples = list(run.samples.filter(prompt__key=key, error="").select_related("prompt"))
        if not samples:
            continue
        wrong = [s for s in samples if s.prompt.gold and not is_correct(s.text, s.prompt.gold)]
        sample = (wrong or samples)[0]
        chosen.append(
            {"prompt": sample.prompt.text, "text": sample.text[:600], "value": per_prompt[key]}
        )
    return chosen


def channel_test_message(channel: Channel) -> Message:
    """The message that checks ``channel`` reaches someone."""
    text = (
        f"This is a test notification from Tailwatch to the channel '{channel.name}'.\n"
        f"If you can read it, alerts will reach you here. {settings.SITE_URL}/\n"
    )
    return Message(
        subject=f"[Tailwatch] Test notification for {channel.name}",
        text=text,
        html=f"<p>{text}</p>".replace("\n", "<br>"),
        chart_png=None,
        payload={"text": text, "event": "test", "channel": channel.name},
    )
