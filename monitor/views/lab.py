"""The lab's generations as an OpenAI-compatible API at ``/lab/v1``.

Model ids name the arm and generation: ``lab-pure-g3``, ``lab-anchored-g0``, … , or an arm
whose generations follow one another, one a run: ``lab-truncated-drift`` (see
``monitor.services.served_lab``, which also says what a generation not trained yet gets).

Off (404) unless ``TAILWATCH_LAB_ENABLED``; when on, a request without the lab's bearer token
gets 401, and every refusal is an OpenAI-shaped error
(``{"error": {"message", "type", "param", "code"}}``). Beside completions (``n`` choices, a list
of legacy prompts, ``stream``), ``GET /models`` lists the ids and ``GET /models/{id}`` names one.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from monitor.fake_llm import CompletionRequestError, FakeResponse
from monitor.services import served_lab


def _lab_endpoint(method: str) -> Callable:
    """A route of the lab's API: off (404) unless enabled; then the method, the token, and any
    refusal of the answer as OpenAI-shaped errors."""

    def decorate(answer: Callable[..., FakeResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        def view(request: HttpRequest, **kwargs: str) -> HttpResponse:
            if not settings.TAILWATCH_LAB_ENABLED:
                raise Http404("The collapse lab is off.")
            try:
                _check_access(request, method)
                response = answer(request, **kwargs)
            except CompletionRequestError as error:
                response = error.response
            return HttpResponse(response.body, status=response.status, headers=response.headers)

        return view

    return decorate


def _check_access(request: HttpRequest, method: str) -> None:
    if request.method != method:
        raise CompletionRequestError(
            405,
            f"{request.method} is not allowed here; use {method}.",
            "method_not_allowed",
            headers={"Allow": method},
        )
    if not served_lab.bears_lab_token(request.headers.get("Authorization", "")):
        raise CompletionRequestError(
            401,
            "Send the lab's token as 'Authorization: Bearer …'.",
            "invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )


@_lab_endpoint("POST")
def completions(request: HttpRequest) -> FakeResponse:
    """Chat and legacy completions, answered by the requested lab generation."""
    return served_lab.answer(request.path, _body(request))


@_lab_endpoint("GET")
def models(request: HttpRequest) -> FakeResponse:
    """Every model the lab answers to, as OpenAI lists them."""
    listing = {
        "object": "list",
        "data": [served_lab.model_object(served_id) for served_id in served_lab.served_model_ids()],
    }
    return _json(listing)


@_lab_endpoint("GET")
def model(request: HttpRequest, model_id: str) -> FakeResponse:
    """One lab model, as OpenAI describes it; 404 for an id that names none."""
    return _json(served_lab.model_object(model_id))


def _json(payload: dict) -> FakeResponse:
    return FakeResponse(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def _body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig as exc:
        raise CompletionRequestError(
            400,
            f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
            "request_too_large",
        ) from exc
