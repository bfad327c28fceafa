"""``/metrics`` for Prometheus: every figure read from the database, behind a bearer token."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from monitor.selectors.prometheus import TailwatchCollector


def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.TAILWATCH_METRICS_TOKEN
    if not token:
        return HttpResponse(
            "The Prometheus exporter is off: set TAILWATCH_METRICS_TOKEN to turn it on.\n",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    # Compared in constant time, so the time a refusal takes tells nothing of the token.
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
        return HttpResponse(
            "Send the metrics token (TAILWATCH_METRICS_TOKEN) as 'Authorization: Bearer …'.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # A registry of its own per scrape: only Tailwatch's figures, none of this web process's.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TailwatchCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
