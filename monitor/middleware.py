"""Response headers that no view sets itself."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    """Sends ``TAILWATCH_CONTENT_SECURITY_POLICY`` with every response: the pages load their
    scripts, styles and images from this site only and run no inline script, so that model
    output which somehow escaped escaping still could not run."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.TAILWATCH_CONTENT_SECURITY_POLICY:
            response.headers.setdefault(
                "Content-Security-Policy", settings.TAILWATCH_CONTENT_SECURITY_POLICY
            )
        return response
