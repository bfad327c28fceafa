"""The demo model: the fake OpenAI-compatible server, served by the app itself.

``make up`` registers it as the first endpoint so a new install has something to watch.
"""

import time

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from monitor.fake_llm import FakeBehaviour

# A little latency and the odd rate limit, so the demo shows retries and timings like a real model.
DEMO_BEHAVIOUR = FakeBehaviour(latency=0.02, error_rate=0.01, error_status=429)


@csrf_exempt
@require_POST
def completions(request: HttpRequest) -> HttpResponse:
    if not settings.TAILWATCH_DEMO_MODEL:
        raise Http404("the demo model is turned off")
    response = DEMO_BEHAVIOUR.respond(request.path, request.body)
    time.sleep(response.delay)
    http_response = HttpResponse(response.body, status=response.status)
    for name, value in response.headers.items():
        http_response[name] = value
    return http_response
