"""Channels: one transport per kind of channel, each sending a ``Message`` its own way.

Every transport implements ``Transport`` and says how a failure should be treated by the
error it raises: ``TransientDeliveryError`` is worth another try, ``PermanentDeliveryError``
would fail the same way again. A new kind of channel is one more class and its entry in
``TRANSPORTS``.
"""

from __future__ import annotations

import smtplib
from email.mime.image import MIMEImage
from typing import Protocol

import httpx
from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from monitor.clients import egress
from monitor.clients.openai_compatible import storable_text
from monitor.models import Channel, ChannelKind
from monitor.notifications.message import CHART_CID, Message


class TransientDeliveryError(Exception):
    """Worth another try later."""


class PermanentDeliveryError(Exception):
    """Will fail the same way again (bad address, 4xx): not retried."""


class Transport(Protocol):
    def send(self, channel: Channel, message: Message) -> None:
        """Deliver ``message`` to ``channel``, or raise one of the delivery errors."""


class EmailTransport:
    """Mail with plain-text and HTML parts, the chart inline, to the channel's addresses."""

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


WEBHOOK_ERROR_CHARS = 200


class WebhookTransport:
    """The message's payload as a JSON POST to the channel's URL, under the egress policy that
    model requests go by: a webhook is a URL a user typed, as a base URL is."""

    def send(self, channel: Channel, message: Message) -> None:
        timeout = settings.TAILWATCH_WEBHOOK_TIMEOUT_SECONDS
        transport = egress.GuardedTransport(egress.EgressPolicy.configured(), httpx.Limits())
        try:
            with (
                httpx.Client(transport=transport, timeout=timeout) as client,
                egress.deadline(timeout),
                client.stream(
                    "POST",
                    channel.target,
                    json=message.payload,
                    headers={"User-Agent": "Tailwatch"},
                ) as response,
            ):
                # Only an error's first words are kept; a receiver cannot make us read more.
                start = egress.read_up_to(response, WEBHOOK_ERROR_CHARS)
        except egress.EgressRefusedError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code < 400:
            return
        text = start[:WEBHOOK_ERROR_CHARS].decode("utf-8", "replace")
        detail = storable_text(f"HTTP {response.status_code}: {text}")
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientDeliveryError(detail)
        raise PermanentDeliveryError(detail)


TRANSPORTS: dict[str, Transport] = {
    ChannelKind.EMAIL: EmailTransport(),
    ChannelKind.WEBHOOK: WebhookTransport(),
}
