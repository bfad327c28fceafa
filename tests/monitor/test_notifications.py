"""Notifications: every kind of channel has a transport, failures are retried only when worth
it, and what a lost message or a dead worker left behind is put right."""

import gzip
import socket
from datetime import timedelta

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from monitor.clients import egress
from monitor.forms import PromptSetUploadForm
from monitor.models import (
    Alert,
    AlertEvent,
    AlertRule,
    AlertState,
    Channel,
    ChannelKind,
    Endpoint,
    EventKind,
    Notification,
    NotificationStatus,
    PromptSet,
    RuleKind,
)
from monitor.notifications import delivery
from monitor.notifications.channels import (
    TRANSPORTS,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from monitor.notifications.message import build_message, channel_test_message
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:9/hook"
TO = "ops@example.org"


def answer(monkeypatch, status: int, text: str | bytes = "", **response) -> None:
    """Every webhook receiver answers ``status`` with ``text``."""
    reply = httpx.MockTransport(lambda request: httpx.Response(status, content=text, **response))
    monkeypatch.setattr(egress, "GuardedTransport", lambda policy, limits: reply)


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


@pytest.mark.parametrize("target", ["http://169.254.169.254/hook", "http://[fe80::1]/hook"])
def test_a_webhook_to_a_metadata_or_link_local_address_is_refused(target):
    with pytest.raises(ValidationError, match="link-local or cloud metadata"):
        Channel(name="hook", kind=ChannelKind.WEBHOOK, target=target).full_clean()


@pytest.mark.parametrize("target", ["http://a@b/", "https://user:secret@hooks.example.org/x"])
def test_a_webhook_url_with_credentials_is_refused_as_a_base_url_is(target):
    with pytest.raises(ValidationError, match="Remove the user name and password"):
        Channel(name="hook", kind=ChannelKind.WEBHOOK, target=target).full_clean()


def test_a_webhook_url_may_carry_its_token_in_the_query():
    target = "https://chat.example.org/v1/spaces/x/messages?key=k&token=t"
    Channel(name="hook", kind=ChannelKind.WEBHOOK, target=target).full_clean()


def test_a_webhook_whose_name_resolves_to_a_metadata_address_is_never_sent(monkeypatch):
    monkeypatch.setattr(
        egress.socket,
        "getaddrinfo",
        lambda host, port, *args, **kwargs: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))
        ],
    )
    channel = Channel(name="hook", kind=ChannelKind.WEBHOOK, target="http://hooks.example/x")
    with pytest.raises(PermanentDeliveryError, match=r"resolves to 169\.254\.169\.254"):
        TRANSPORTS[channel.kind].send(channel, channel_test_message(channel))


def test_a_webhook_receivers_reply_is_read_no_further_than_its_first_words(monkeypatch):
    bomb = gzip.compress(b"\x00" * 50_000_000)  # 50 MB inflated from about 50 KB
    answer(monkeypatch, 500, bomb, headers={"Content-Encoding": "gzip"})
    channel = Channel(name="hook", kind=ChannelKind.WEBHOOK, target=HOOK)
    with pytest.raises(TransientDeliveryError) as failure:
        TRANSPORTS[channel.kind].send(channel, channel_test_message(channel))
    assert len(str(failure.value)) < 250 and "\x00" not in str(failure.value)


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


HOSTILE = "<!channel> <https://evil.example|your bank> & more"


def test_a_model_servers_error_reply_cannot_ping_or_link_a_slack_channel():
    endpoint = make_endpoint("http://127.0.0.1:9/v1", name="bot <!here>")
    rule = AlertRule.objects.create(endpoint=endpoint, kind=RuleKind.DOWN, window_runs=1)
    alert = Alert.objects.create(
        rule=rule, endpoint=endpoint, state=AlertState.FIRING, summary=f"HTTP 500: {HOSTILE}"
    )
    event = AlertEvent.objects.create(alert=alert, kind=EventKind.FIRED)

    payload = build_message(event).payload

    assert "<" not in payload["text"] and ">" not in payload["text"]
    assert "&lt;!channel&gt; &lt;https://evil.example|your bank&gt; &amp; more" in payload["text"]
    assert "bot &lt;!here&gt;" in payload["text"]
    assert payload["summary"] == f"HTTP 500: {HOSTILE}"  # the figures stay as they are


def test_a_test_notification_escapes_the_channel_name_in_html_and_slack():
    message = channel_test_message(Channel(name="<img src=x onerror=alert(1)> <!channel>"))
    assert "<img" not in message.html and "&lt;img src=x" in message.html
    assert message.html.startswith("<p>This is a test") and "<br>" in message.html
    assert "<!channel>" not in message.payload["text"]
    assert "&lt;!channel&gt;" in message.payload["text"]


@pytest.mark.parametrize("model", [Endpoint, Channel, AlertRule, PromptSet])
@pytest.mark.parametrize(
    "name", ["ops\r\nBcc: all@example.org", "ops\nrun", "ops\u2028x", "ops\x1b[31m\x07"]
)
def test_a_name_of_more_than_one_line_is_refused(model, name):
    with pytest.raises(ValidationError, match="one line of text"):
        model._meta.get_field("name").run_validators(name)


def test_an_uploaded_prompt_set_is_named_in_one_line():
    form = PromptSetUploadForm(
        data={"name": "probes\r\nInjected"},
        files={"file": SimpleUploadedFile("p.jsonl", b'{"text": "hi"}')},
    )
    assert not form.is_valid() and "one line of text" in str(form.errors["name"])


def test_a_line_break_in_an_older_channel_name_does_not_block_its_email(mailoutbox):
    channel = Channel.objects.create(name="ops\r\nBcc: all@example.org", kind="email", target=TO)
    notification = delivery.send_notification(delivery.send_test(channel).pk)

    assert notification.status == NotificationStatus.SENT, notification.error
    assert mailoutbox[0].subject == "[Tailwatch] Test notification for ops Bcc: all@example.org"
    assert mailoutbox[0].bcc == []


def test_an_unforeseen_failure_fails_the_notification_with_its_error(monkeypatch):
    def broken(channel, message):
        raise ValueError("no such header")

    monkeypatch.setattr(TRANSPORTS[ChannelKind.EMAIL], "send", broken)
    channel = Channel.objects.create(name="ops", kind="email", target=TO)
    notification = delivery.send_notification(delivery.send_test(channel).pk)

    assert notification.status == NotificationStatus.FAILED
    assert notification.error == "ValueError: no such header"
    assert Notification.objects.get(pk=notification.pk).status == NotificationStatus.FAILED
