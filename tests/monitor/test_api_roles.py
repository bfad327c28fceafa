"""Roles through the API: every route answers each caller as its role allows (no token: 401;
a role without the permission: 403), and a route added without saying who may use it fails."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from monitor.models import Alert, AlertState, ApiToken, Channel, Scan
from tests.factories import make_endpoint, make_scored_run, make_user

pytestmark = pytest.mark.django_db

ANONYMOUS, NO_ROLE, VIEWER, EDITOR, ADMIN = "anonymous", "no role", "viewer", "editor", "admin"
CALLERS = [ANONYMOUS, NO_ROLE, VIEWER, EDITOR, ADMIN]
RANK = {NO_ROLE: 0, VIEWER: 1, EDITOR: 2, ADMIN: 3}
PUBLIC = "public"
READ, WRITE = {"GET": VIEWER}, {"POST": EDITOR}
CRUD = {"GET": VIEWER, "PUT": EDITOR, "PATCH": EDITOR, "DELETE": EDITOR}

# Route name -> (least role per method, the object each URL argument names).
ROUTES = {
    "api-endpoint-list": ({"GET": VIEWER, "POST": EDITOR}, {}),
    "api-endpoint-detail": (CRUD, {"pk": "endpoint"}),
    "api-endpoint-run": (WRITE, {"pk": "endpoint"}),
    "api-series": (READ, {"pk": "endpoint"}),
    "api-promptset-list": (READ, {}),
    "api-promptset-upload": (WRITE, {}),
    "api-promptset-detail": (READ, {"pk": "prompt set"}),
    "api-promptset-versions": (READ, {"pk": "prompt set"}),
    "api-promptset-prompts": (READ, {"pk": "prompt set"}),
    "api-run-list": (READ, {}),
    "api-run-detail": (READ, {"pk": "run"}),
    "api-sample-list": (READ, {"run_pk": "run"}),
    "api-verdict": (READ, {"pk": "run"}),
    "api-compare": (READ, {}),
    "api-alert-list": (READ, {}),
    "api-alert-detail": (READ, {"pk": "alert"}),
    "api-alert-acknowledge": (WRITE, {"pk": "alert"}),
    "api-alert-silence": (WRITE, {"pk": "alert"}),
    "api-rule-list": ({"GET": VIEWER, "POST": EDITOR}, {}),
    "api-rule-detail": (CRUD, {"pk": "rule"}),
    "api-channel-list": ({"GET": ADMIN, "POST": ADMIN}, {}),
    "api-channel-detail": (
        {"GET": ADMIN, "PUT": ADMIN, "PATCH": ADMIN, "DELETE": ADMIN},
        {"pk": "channel"},
    ),
    "api-scan-list": (READ, {}),
    "api-scan-detail": (READ, {"pk": "scan"}),
    "api-schema": ({"GET": PUBLIC}, {}),
    "api-docs": ({"GET": PUBLIC}, {}),
}


def api_route_names() -> set[str]:
    api = next(e for e in get_resolver().url_patterns if str(e.pattern) == "api/")
    names, pending = set(), [api]
    while pending:
        for entry in pending.pop().url_patterns:
            if isinstance(entry, URLResolver):
                pending.append(entry)
            else:
                names.add(entry.name)
    return names


def token_client(caller: str) -> Client:
    if caller == ANONYMOUS:
        return Client()
    key = ApiToken.issue(make_user(None if caller == NO_ROLE else caller))
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def expected(caller: str, needed: str) -> int | str:
    if needed == PUBLIC:
        return "allowed"
    if caller == ANONYMOUS:
        return 401
    return "allowed" if RANK[caller] >= RANK[needed] else 403


@pytest.fixture
def objects(settings, unused_port) -> dict[str, int]:
    settings.TAILWATCH_EMBEDDINGS = False
    endpoint = make_endpoint(f"http://127.0.0.1:{unused_port}/v1")
    run = make_scored_run(endpoint, seed=1, vocabulary=2000)
    rule = endpoint.alert_rules.first()
    alert = Alert.objects.create(
        rule=rule, endpoint=endpoint, state=AlertState.FIRING, summary="a breach"
    )
    channel = Channel.objects.create(name="ops", kind="email", target="ops@example.org")
    scan = Scan.objects.create(corpus_name="crawl.jsonl", corpus_path="/nonexistent/crawl.jsonl")
    return {
        "endpoint": endpoint.pk,
        "run": run.pk,
        "alert": alert.pk,
        "rule": rule.pk,
        "channel": channel.pk,
        "prompt set": endpoint.prompt_set_id,
        "scan": scan.pk,
    }


def test_every_api_route_says_who_may_use_it():
    assert api_route_names() == set(ROUTES)


@pytest.mark.parametrize("caller", CALLERS)
def test_each_api_route_answers_the_caller_as_its_role_allows(caller, objects):
    client = token_client(caller)
    calls = [
        (method, reverse(name, kwargs={arg: objects[kind] for arg, kind in args.items()}), needed)
        for name, (methods, args) in ROUTES.items()
        for method, needed in methods.items()
    ]
    # Deletes last: the objects the other calls name must still be there.
    calls.sort(key=lambda call: call[0] == "DELETE")
    wrong = []
    for method, url, needed in calls:
        response = getattr(client, method.lower())(url, content_type="application/json")
        status = response.status_code
        got = status if status in (401, 403) or status >= 500 else "allowed"
        if got != expected(caller, needed):
            wrong.append(f"{method} {url}: {status}, expected {expected(caller, needed)}")
    assert not wrong, "\n".join(wrong)


def test_a_revoked_or_unknown_token_is_refused(objects):
    user = make_user("viewer")
    key = ApiToken.issue(user)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/runs/").status_code == 200
    ApiToken.issue(user)  # rotated: the old key no longer works
    assert Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/runs/").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer tw_nonsense").get("/api/runs/").status_code == 401


def test_only_the_hash_of_a_token_is_stored():
    key = ApiToken.issue(make_user("viewer"))
    stored = ApiToken.objects.get()
    assert key not in stored.key_hash and stored.key_hash == ApiToken.hash_key(key)


def test_the_ui_session_reads_the_api_too(client, objects):
    client.force_login(make_user("viewer"))
    response = client.get(f"/api/runs/{objects['run']}/")
    assert response.status_code == 200 and response.json()["id"] == objects["run"]
