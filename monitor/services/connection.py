"""Test connection: send one prompt to an endpoint, with its settings, and return what came back."""

from __future__ import annotations

from monitor.clients.egress import EgressRefusedError
from monitor.clients.openai_compatible import (
    Completion,
    CompletionFailure,
    OpenAICompatibleClient,
    RetryPolicy,
)
from monitor.models import ApiKeyUnavailableError, Endpoint

CONNECTION_PROMPT = "Reply with one short sentence: which model are you?"
# A person is waiting on the page: give up sooner than a scheduled run would. The whole test,
# every try and wait included, ends within this.
CONNECTION_TIMEOUT_SECONDS = 10.0
CONNECTION_ATTEMPTS = 2


def check_connection(endpoint: Endpoint) -> Completion | CompletionFailure:
    """The endpoint's reply to ``CONNECTION_PROMPT``, or why there was none."""
    params = endpoint.request_params()
    try:
        client = OpenAICompatibleClient.from_request_params(
            params,
            endpoint.get_api_key(),
            timeout=min(params["timeout_seconds"], CONNECTION_TIMEOUT_SECONDS),
            total_timeout=CONNECTION_TIMEOUT_SECONDS,
            max_connections=1,
            policy=RetryPolicy(max_attempts=CONNECTION_ATTEMPTS),
        )
    except ApiKeyUnavailableError as exc:
        return CompletionFailure("API key unavailable", str(exc), 0, 0, False)
    except EgressRefusedError as exc:
        return CompletionFailure("refused", str(exc), 0, 0, False)
    with client:
        return client.complete(CONNECTION_PROMPT)
