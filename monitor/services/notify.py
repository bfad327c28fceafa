"""Notify: deliver one ``Notification`` through its channel, exactly once.

A notification row is written before anything is sent. ``send_notification`` claims it by
moving it from pending to sending in one conditional UPDATE, so a duplicated or retried task
finds nothing to claim and sends nothing. A transient failure (SMTP down, webhook 5xx or 429)
puts it back to pending for the task to retry; the error of every try is stored.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.mime.image import MIMEImage

import httpx
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from evaluators import is_correct
from monitor import queue
from monitor.charts import series_png
from monitor.models import (
    AlertEvent,
    Channel,
    ChannelKind,
    EventKind,
    MetricPoint,
    Notification,
    NotificationStatus,
    RuleKind,
    metric_higher_is_worse,
)
from monitor.services.baselines import baseline_for

log = logging.getLogger(__name__)

CHART_CID = "series-chart"
# A send (SMTP or webhook, each with its own timeout) that has not finished by then never will.
STALE_SENDING = timedelta(minutes=10)
SERIES_LENGTH = 30
TELLING_SAMPLES = 3


class TransientDeliveryError(Exception):
    """Worth another try later."""


class PermanentDeliveryError(Exception):
    """Will fail the same way again (bad address, 4xx): not retried."""


@dataclass
class Message:
    """What a notification says, rendered once for any channel."""

    subject: str
    text: str
    html: str
    chart_png: bytes | None
    payload: dict


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
    worst_first = sorted(per_prompt, key=per_prompt.get, reverse=metric_higher_is_worse(metric))
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


def build_message(event: AlertEvent) -> Message:
    alert, rule, endpoint = event.alert, event.alert.rule, event.alert.endpoint
    points = []
    if rule.metric:
        points = list(
            reversed(
                MetricPoint.objects.filter(endpoint=endpoint, metric=rule.metric).order_by("-time")[
                    :SERIES_LENGTH
                ]
            )
        )
    current = next((p for p in points if event.run_id and p.run_id == event.run_id), None)
    baseline_point = None
    if rule.kind == RuleKind.DROP and event.run is not None:
        baseline_point = MetricPoint.objects.filter(
            run=baseline_for(event.run), metric=rule.metric
        ).first()
    chart = (
        series_png(
            [p.value for p in points],
            [p.ci_low for p in points],
            [p.ci_high for p in points],
            alert.baseline_value,
        )
        if len(points) >= 2
        else None
    )
    verb = {
        EventKind.FIRED: "is firing",
        EventKind.REMINDER: "is still firing",
        EventKind.RESOLVED: "resolved",
    }.get(event.kind, event.get_kind_display().lower())
    subject = f"[Tailwatch {rule.get_severity_display()}] {endpoint.name}: {rule} {verb}"
    url = settings.SITE_URL + endpoint.get_absolute_url()
    context = {
        "event": event,
        "alert": alert,
        "rule": rule,
        "endpoint": endpoint,
        "verb": verb,
        "url": url,
        "run_url": settings.SITE_URL + event.run.get_absolute_url() if event.run else "",
        "current": current,
        "baseline_point": baseline_point,
        "samples": telling_samples(event) if event.kind != EventKind.RESOLVED else [],
        "chart_cid": CHART_CID if chart else None,
    }
    text = render_to_string("monitor/email/alert.txt", context)
    payload = {
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
    return Message(
        subject=subject,
        text=text,
        html=render_to_string("monitor/email/alert.html", context),
        chart_png=chart,
        payload=payload,
    )


def channel_test_message(channel: Channel) -> Message:
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


class EmailChannel:
    def send(self, channel: Channel, message: Message) -> None:
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=channel.email_addresses,
        )
        email.attach_alternative(message.html, "text/html")
        if message.chart_png:
            # Referenced as cid:series-chart from the HTML, so clients show it inline.
            email.mixed_subtype = "related"
            image = MIMEImage(message.chart_png, "png")
            image.add_header("Content-ID", f"<{CHART_CID}>")
            image.add_header("Content-Disposition", "inline", filename="chart.png")
            email.attach(image)
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError(f"recipients refused: {exc.recipients}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc


class WebhookChannel:
    def send(self, channel: Channel, message: Message) -> None:
        try:
            response = httpx.post(
                channel.target,
                json=message.payload,
                timeout=settings.TAILWATCH_WEBHOOK_TIMEOUT_SECONDS,
                headers={"User-Agent": "Tailwatch"},
            )
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientDeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise PermanentDeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")


CHANNELS = {ChannelKind.EMAIL: EmailChannel(), ChannelKind.WEBHOOK: WebhookChannel()}


def send_notification(notification_id: int) -> Notification | None:
    """Send a pending notification; None when another task already claimed it."""
    claimed = Notification.objects.filter(
        pk=notification_id, status=NotificationStatus.PENDING
    ).update(
        status=NotificationStatus.SENDING,
        attempts=F("attempts") + 1,
        last_attempt_at=timezone.now(),
    )
    if not claimed:
        return None
    notification = Notification.objects.select_related(
        "channel", "event__alert__rule", "event__alert__endpoint", "event__run"
    ).get(pk=notification_id)
    channel = notification.channel
    try:
        message = (
            channel_test_message(channel)
            if notification.is_test
            else build_message(notification.event)
        )
        CHANNELS[channel.kind].send(channel, message)
    except TransientDeliveryError as exc:
        out_of_tries = notification.attempts >= settings.TAILWATCH_NOTIFY_ATTEMPTS
        notification.status = (
            NotificationStatus.FAILED if out_of_tries else NotificationStatus.PENDING
        )
        notification.error = str(exc)
    except PermanentDeliveryError as exc:
        notification.status, notification.error = NotificationStatus.FAILED, str(exc)
    else:
        notification.status, notification.error = NotificationStatus.SENT, ""
        notification.sent_at = timezone.now()
    notification.save(update_fields=["status", "error", "sent_at"])
    log.info("notification %s via %s: %s", notification.pk, channel, notification.status)
    return notification


def recover_stale(now: datetime | None = None) -> list[Notification]:
    """Notifications that a lost message or a dead worker left behind, put right.

    A pending one whose task never ran (its message was lost) is queued again. One still
    "sending" long after its try began belonged to a worker that died mid-send: whether the
    message went out is unknown, so it is marked failed, with that said, rather than risk
    sending it twice.
    """
    now = now or timezone.now()
    longest_wait = timedelta(seconds=max(600.0, 2 * settings.TAILWATCH_NOTIFY_RETRY_SECONDS))
    abandoned = Notification.objects.filter(
        status=NotificationStatus.SENDING, last_attempt_at__lt=now - STALE_SENDING
    )
    abandoned.update(
        status=NotificationStatus.FAILED,
        error="the worker stopped while sending; not sent again in case it went out",
    )
    # Retries wait at most an hour (see tasks.send_notification), so a pending notification
    # untouched for longer than that has no task coming for it.
    lost = list(
        Notification.objects.filter(status=NotificationStatus.PENDING).filter(
            Q(last_attempt_at__lt=now - timedelta(hours=1) - longest_wait)
            | Q(last_attempt_at__isnull=True, created_at__lt=now - longest_wait)
        )
    )
    for notification in lost:
        queue.send_notification(notification.pk)
    return lost


def send_test(channel: Channel) -> Notification:
    """Queue a test message to ``channel``."""
    notification = Notification.objects.create(channel=channel, is_test=True)
    transaction.on_commit(lambda: queue.send_notification(notification.pk))
    return notification
