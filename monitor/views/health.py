"""The health check for load balancers and uptime checks: 503 naming each failing check."""

from django.http import HttpRequest, JsonResponse

from monitor.selectors.health import health_checks


def healthz(request: HttpRequest) -> JsonResponse:
    checks = health_checks()
    failing = [name for name, check in checks.items() if not check["ok"]]
    body = {"ok": not failing, "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)
