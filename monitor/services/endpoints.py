"""Endpoints: pausing and resuming their scheduled runs."""

from __future__ import annotations

from monitor.models import Endpoint


def toggle_enabled(endpoint: Endpoint) -> Endpoint:
    """Pause a running endpoint's schedule, or resume a paused one."""
    endpoint.enabled = not endpoint.enabled
    endpoint.save(update_fields=["enabled", "updated_at"])
    return endpoint
