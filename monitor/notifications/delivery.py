"""Delivery: send one ``Notification`` through its channel, exactly once.

A notification row is written before anything is sent. ``send_notification`` claims it by
moving it from pending to sending in one conditional UPDATE, so a duplicated or retried task
finds nothing to claim and sends nothing. A transient failure (SMTP down, webhook 5xx or 429)
puts it back to pending for the task to retry; the error of every try is stored, and any
other failure fails the notification with its error.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from monitor import queue
from monitor.models import AlertEvent, Channel, Notification, NotificationStatus
from monitor.notifications.channels import (
    TRANSPORTS,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from monitor.notifications.message import Message, build_message, channel_test_message

log = logging.getLogger(__name__)

# A send (SMTP or webhook, each with its own timeout) that has not finished by then never will.
STALE_SENDING = timedelta(minutes=10)


def queue_notifications(event: AlertEvent) -> list[Notification]:
    """Write one notification per channel of the rule, and send each after commit."""
    return [
        _write(event=event, channel=channel) for channel in event.alert.rule.notification_channels()
    ]


def send_test(channel: Channel) -> Notification:
    """Queue a test message to ``channel``."""
    return _write(channel=channel, is_test=True)


def _write(**fields) -> Notification:
    notification = Notification.objects.create(**fields)
    # Only once committed can the worker that takes the message find the row.
    transaction.on_commit(lambda: queue.send_notification(notification.pk))
    return notification


def send_notification(notification_id: int) -> Notification | None:
    """Send a pending notification; None when another task already claimed it."""
    notification = _claim(notification_id)
    if notification is None:
        return None
    channel = notification.channel
    try:
        TRANSPORTS[channel.kind].send(channel, _message(notification))
    except TransientDeliveryError as exc:
        out_of_tries = notification.attempts >= settings.TAILWATCH_NOTIFY_ATTEMPTS
        notification.status = (
            NotificationStatus.FAILED if out_of_tries else NotificationStatus.PENDING
        )
        notification.error = str(exc)
    except PermanentDeliveryError as exc:
        notification.status, notification.error = NotificationStatus.FAILED, str(exc)
    except Exception as exc:
        # Neither transport error: the message could not be built or the transport met what
        # it does not know (a header it refuses). Trying again would fail alike; left
        # "sending", the row would say nothing of why until recovery called the worker dead.
        log.exception("notification %s via %s could not be sent", notification.pk, channel)
        notification.status = NotificationStatus.FAILED
        notification.error = f"{type(exc).__name__}: {exc}"
    else:
        notification.status, notification.error = NotificationStatus.SENT, ""
        notification.sent_at = timezone.now()
    notification.save(update_fields=["status", "error", "sent_at"])
    log.info("notification %s via %s: %s", notification.pk, channel, notification.status)
    return notification


def _claim(notification_id: int) -> Notification | None:
    """Move a pending notification to sending and count the try, in one conditional UPDATE
    that only one task can win; the claimed notification, or None."""
    claimed = Notification.objects.filter(
        pk=notification_id, status=NotificationStatus.PENDING
    ).update(
        status=NotificationStatus.SENDING,
        attempts=F("attempts") + 1,
        last_attempt_at=timezone.now(),
    )
    if not claimed:
        return None
    return Notification.objects.select_related(
        "channel", "event__alert__rule", "event__alert__endpoint", "event__run"
    ).get(pk=notification_id)


def _message(notification: Notification) -> Message:
    if notification.is_test:
        return channel_test_message(notification.channel)
    return build_message(notification.event)


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
