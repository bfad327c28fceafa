"""The health check for load balancers and uptime checks: 503 naming each failing check."""

from django.http import HttpRequest, JsonResponse

from monitor.selectors.health import health_checks


def healthz(request: HttpRequest) -> JsonResponse:
    checks = health_checks()
    failing = [name for name, check in checks.items() if not check["ok"]]
    if not request.user.has_perm("monitor.view_endpoint"):
        # Anyone may probe health; only those who may read the pages see which rows failed.
        checks = {name: _without_rows(check) for name, check in checks.items()}
    body = {"ok": not failing, "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


def _without_rows(check: dict) -> dict:
    return {key: value for key, value in check.items() if key != "first"}
