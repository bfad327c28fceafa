"""The lab's generations as an OpenAI-compatible API at ``/lab/v1``.

Model ids name the arm and generation: ``lab-pure-g3``, ``lab-anchored-g0``, … , or an arm
whose generations follow one another, one a run: ``lab-truncated-drift`` (see
``monitor.services.served_lab``, which also says what a generation not trained yet gets).

Off (404) unless ``TAILWATCH_LAB_ENABLED``; when on, a request without the lab's bearer token
gets 401, and every refusal is an OpenAI-shaped error (``{"error": {"message", "type", "code"}}``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from monitor.fake_llm import CompletionRequestError
from monitor.services import served_lab


@csrf_exempt
def completions(request: HttpRequest) -> HttpResponse:
    """Chat and legacy completions, answered by the requested lab generation."""
    if not settings.TAILWATCH_LAB_ENABLED:
        raise Http404("The collapse lab is off.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        if not served_lab.bears_lab_token(request.headers.get("Authorization", "")):
            raise CompletionRequestError(
                401,
                "Send the lab's token as 'Authorization: Bearer …'.",
                "invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        response = served_lab.answer(request.path, _body(request))
    except CompletionRequestError as error:
        response = error.response
    return HttpResponse(response.body, status=response.status, headers=response.headers)


def _body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig as exc:
        raise CompletionRequestError(
            400,
            f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
            "request_too_large",
        ) from exc
