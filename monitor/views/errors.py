"""Page not found, in the language of the part of the site asked: the API's clients read JSON
as DRF writes it, the lab's clients an OpenAI-shaped error, people an HTML page."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework.exceptions import NotFound

from monitor.fake_llm import CompletionRequestError


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The site's 404 (``handler404``): also for paths no route matches, which no view sees."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": str(NotFound.default_detail)}, status=404)
    if request.path_info.startswith("/lab/"):
        refusal = CompletionRequestError(
            404, f"Nothing is served at {request.path_info[:200]}.", "not_found"
        ).response
        return HttpResponse(refusal.body, status=refusal.status, headers=refusal.headers)
    return defaults.page_not_found(request, exception)
