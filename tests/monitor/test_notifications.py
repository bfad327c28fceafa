"""Notifications: every kind of channel has a transport, failures are retried only when worth
it, and what a lost message or a dead worker left behind is put right."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from monitor.models import Channel, ChannelKind, Notification, NotificationStatus
from monitor.notifications import delivery
from monitor.notifications.channels import (
    TRANSPORTS,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from monitor.notifications.message import channel_test_message

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:9/hook"


def answer(monkeypatch, status: int, text: str = "") -> None:
    monkeypatch.setattr(httpx, "post", lambda *args, **kwargs: httpx.Response(status, text=text))


def test_every_kind_of_channel_has_a_transport():
    assert set(TRANSPORTS) == set(ChannelKind.values)


@pytest.mark.parametrize(
    "status, error",
    [
        (200, None),
        (429, TransientDeliveryError),
        (503, TransientDeliveryError),
        (404, PermanentDeliveryError),
    ],
)
def test_a_webhook_answer_says_whether_another_try_is_worth_it(monkeypatch, status, error):
    answer(monkeypatch, status)
    channel = Channel(name="hook", kind=ChannelKind.WEBHOOK, target=HOOK)
    send = TRANSPORTS[channel.kind].send
    if error is None:
        send(channel, channel_test_message(channel))
    else:
        with pytest.raises(error, match=f"HTTP {status}"):
            send(channel, channel_test_message(channel))


def test_a_transient_failure_is_retried_until_the_tries_run_out(settings, monkeypatch):
    settings.TAILWATCH_NOTIFY_ATTEMPTS = 2
    answer(monkeypatch, 503, "busy")
    channel = Channel.objects.create(name="hook", kind=ChannelKind.WEBHOOK, target=HOOK)
    notification = delivery.send_test(channel)

    assert delivery.send_notification(notification.pk).status == NotificationStatus.PENDING
    last = delivery.send_notification(notification.pk)
    assert last.status == NotificationStatus.FAILED
    assert last.attempts == 2 and last.error == "HTTP 503: busy"


def test_stale_notifications_are_requeued_or_failed_never_sent_twice():
    channel = Channel.objects.create(name="ops", kind="email", target="ops@example.org")
    long_ago = timezone.now() - timedelta(hours=3)
    lost = Notification.objects.create(channel=channel, is_test=True, created_at=long_ago)
    fresh = Notification.objects.create(channel=channel, is_test=True)
    dead_mid_send = Notification.objects.create(
        channel=channel,
        is_test=True,
        status=NotificationStatus.SENDING,
        attempts=1,
        last_attempt_at=long_ago,
    )

    assert delivery.recover_stale() == [lost]

    dead_mid_send.refresh_from_db()
    assert dead_mid_send.status == NotificationStatus.FAILED
    assert "not sent again" in dead_mid_send.error
    fresh.refresh_from_db()
    assert fresh.status == NotificationStatus.PENDING
