"""Endpoints: registering one (with its default alert rules), pausing and resuming its runs."""

from __future__ import annotations

from django.db import transaction

from monitor.models import AlertRule, Endpoint


def save_endpoint(endpoint: Endpoint) -> Endpoint:
    """Save a new or edited endpoint. A new one starts with the default alert rules, so a
    regression is reported from its first runs on without anyone writing a rule."""
    creating = endpoint._state.adding
    with transaction.atomic():
        endpoint.save()
        if creating:
            AlertRule.create_defaults(endpoint)
    return endpoint


def toggle_enabled(endpoint: Endpoint) -> Endpoint:
    """Pause a running endpoint's schedule, or resume a paused one."""
    endpoint.enabled = not endpoint.enabled
    endpoint.save(update_fields=["enabled", "updated_at"])
    return endpoint
