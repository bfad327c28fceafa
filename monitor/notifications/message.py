"""Message: what a notification says, rendered once for any channel.

An alert event becomes a subject, plain-text and HTML parts (from the ``monitor/email``
templates), a chart, and a JSON payload for webhooks. The chart is a PNG sent inline (mail
clients run no script): the metric's recent values, or, for a drop alert on an endpoint's first
run (no series yet), the run against its baseline run, each with its 95% CI.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.utils.html import format_html

from evaluators import METRICS, is_correct
from evaluators.policy import change_in_words
from monitor.charts import comparison_png, series_png
from monitor.models import (
    AlertEvent,
    Channel,
    EventKind,
    MetricPoint,
    RuleKind,
)
from monitor.selectors.length import alert_length_context
from monitor.selectors.metrics import metric_label
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


def one_line(text: str) -> str:
    """``text`` with its line breaks made spaces: a subject is a mail header, which a line
    break would end (names are validated to one line, but rows older than that check exist)."""
    return " ".join(text.splitlines())


def slack_escaped(text: str) -> str:
    """``text`` safe in a Slack message: escaped as Slack asks of untrusted text, so that names
    and a model server's error replies cannot ping the channel (``<!channel>``) or hide links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_message(event: AlertEvent) -> Message:
    """What ``event`` says: subject, text and HTML with its chart, and the webhook payload."""
    alert, rule, endpoint = event.alert, event.alert.rule, event.alert.endpoint
    points = series_points(event)
    verb = VERBS.get(event.kind, event.get_kind_display().lower())
    subject = one_line(f"[Tailwatch {rule.get_severity_display()}] {endpoint.name}: {rule} {verb}")
    url = settings.SITE_URL + endpoint.get_absolute_url()
    context = template_context(event, points, verb, url)
    chart = series_chart(points, alert.baseline_value) or comparison_chart(
        context["current"], context["baseline_point"]
    )
    context["chart_cid"] = CHART_CID if chart is not None else None
    context["chart_alt"] = chart_alt(context, chart_is_series=len(points) >= 2)
    return Message(
        subject=subject,
        text=render_to_string("monitor/email/alert.txt", context),
        html=render_to_string("monitor/email/alert.html", context),
        chart_png=chart,
        payload=webhook_payload(event, subject, url, context["length_context"]),
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


def comparison_chart(current: MetricPoint | None, baseline: MetricPoint | None) -> bytes | None:
    """The run against its baseline run, each value with its 95% CI: the chart of a drop alert
    while the endpoint has no series to draw (its first run); None without both points."""
    if current is None or baseline is None:
        return None
    return comparison_png(
        [
            (
                f"Baseline (run {baseline.run_id})",
                baseline.value,
                baseline.ci_low,
                baseline.ci_high,
            ),
            (f"This run (run {current.run_id})", current.value, current.ci_low, current.ci_high),
        ]
    )


def _with_ci(point: MetricPoint) -> str:
    if point.ci_low is None or point.ci_high is None:
        return f"{point.value:.4g}"
    return f"{point.value:.4g} (95% CI {point.ci_low:.4g} – {point.ci_high:.4g})"


def chart_alt(context: dict, chart_is_series: bool) -> str:
    """The chart in words, for mail clients that block images and for screen readers."""
    label = metric_label(context["rule"].metric)
    if chart_is_series:
        return f"Recent values of {label}, with the baseline dashed"
    current, baseline = context["current"], context["baseline_point"]
    if current is None or baseline is None:
        return ""
    return (
        f"{label}: this run {_with_ci(current)} against baseline run {baseline.run_id} "
        f"{_with_ci(baseline)}"
    )


def baseline_point(event: AlertEvent) -> MetricPoint | None:
    """For a drop rule, the baseline run's value of the metric the run was compared with."""
    rule = event.alert.rule
    if rule.kind != RuleKind.DROP or event.run is None:
        return None
    return MetricPoint.objects.filter(run=baseline_for(event.run), metric=rule.metric).first()


def current_point(event: AlertEvent, points: list[MetricPoint]) -> MetricPoint | None:
    """The point of the event's run: in the series, or the run's own (a run judged after later
    runs were scored, or one whose point the series no longer reaches)."""
    if not event.run_id or not event.alert.rule.metric:
        return None
    found = next((p for p in points if p.run_id == event.run_id), None)
    return (
        found
        or MetricPoint.objects.filter(run_id=event.run_id, metric=event.alert.rule.metric).first()
    )


def change(current: MetricPoint | None, baseline: MetricPoint | None, metric: str) -> str:
    """The run's value against the baseline's, in words whose sign and meaning agree."""
    if current is None or baseline is None:
        return ""
    return change_in_words(current.value, baseline.value, metric)


def template_context(event: AlertEvent, points: list[MetricPoint], verb: str, url: str) -> dict:
    """What the email templates show about ``event`` (the chart is added by the caller)."""
    alert = event.alert
    current, baseline = current_point(event, points), baseline_point(event)
    return {
        "event": event,
        "alert": alert,
        "rule": alert.rule,
        "endpoint": alert.endpoint,
        "verb": verb,
        "url": url,
        "run_url": settings.SITE_URL + event.run.get_absolute_url() if event.run else "",
        "current": current,
        "baseline_point": baseline,
        "change": change(current, baseline, alert.rule.metric),
        "length_context": alert_length_context(alert.rule, event.run),
        "samples": telling_samples(event) if event.kind != EventKind.RESOLVED else [],
    }


def webhook_payload(event: AlertEvent, subject: str, url: str, length_context: str = "") -> dict:
    """The JSON a webhook receives: a Slack-compatible ``text`` plus the alert's figures."""
    alert, rule, endpoint = event.alert, event.alert.rule, event.alert.endpoint
    summary = f"{alert.summary}\n{length_context}" if length_context else alert.summary
    return {
        "text": slack_escaped(f"{subject}\n{summary}\n{url}"),
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
        "length_context": length_context,
        "run": event.run_id,
        "url": url,
        "time": event.created_at.isoformat(),
    }


def telling_samples(event: AlertEvent) -> list[dict]:
    """The outputs that show the problem best: the prompts with the worst per-prompt value of
    the alert's metric in the run (of its raw twin, for a length-matched metric, which has no
    per-prompt figure), one output each (a wrong one, for accuracy metrics)."""
    run, metric = event.run, event.alert.rule.metric
    if run is None or not run.report or not metric:
        return []
    if METRICS.get(metric) and METRICS[metric].length_matched:
        metric = metric.removesuffix("_matched")
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
        subject=one_line(f"[Tailwatch] Test notification for {channel.name}"),
        text=text,
        html=format_html("<p>{}</p>", linebreaksbr(text, autoescape=True)),
        chart_png=None,
        payload={"text": slack_escaped(text), "event": "test", "channel": channel.name},
    )
