"""The lab's generations as an OpenAI-compatible API at ``/lab/v1``.

Model ids name the arm and generation: ``lab-pure-g3``, ``lab-anchored-g0``, … , or an arm
whose generations follow one another, one a run: ``lab-truncated-drift`` (see
``monitor.services.served_lab``). A generation not trained yet is trained on its first request
(a few seconds; see ``lab.chain``).
A request's integer ``seed``, as in OpenAI's API, makes its reply reproducible.
"""

from __future__ import annotations

import json
import random

import numpy as np
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from monitor.fake_llm import completion_response
from monitor.services.served_lab import served_generation, served_lab


def _requested(raw_body: bytes) -> dict | None:
    """The request body as a JSON object, or None when it is not one."""
    try:
        body = json.loads(raw_body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@csrf_exempt
@require_POST
def completions(request: HttpRequest) -> HttpResponse:
    """Chat and legacy completions, answered by the requested lab generation."""
    body = _requested(request.body)
    seed = body.get("seed") if body else None
    rng = random.Random(seed if isinstance(seed, int) else None)
    if body is None:
        # Not a JSON object: the shared request parser answers with the usual 400.
        response = completion_response(request.path, request.body, rng)
    else:
        target = served_generation(str(body.get("model", "")))
        if target is None:
            return JsonResponse(
                {
                    "error": {
                        "message": f"The model '{body.get('model', '')}' does not exist; "
                        "lab models are named like lab-pure-g3, lab-anchored-g0 or "
                        "lab-truncated-drift.",
                        "type": "invalid_request_error",
                        "code": "model_not_found",
                    }
                },
                status=404,
            )
        model = served_lab().lab_model(*target)

        def reply(prompt: str, rng: random.Random) -> str:
            return model.replies([prompt], np.random.default_rng(rng.getrandbits(64)))[0]

        response = completion_response(request.path, request.body, rng, reply)
    return HttpResponse(response.body, status=response.status, headers=response.headers)
