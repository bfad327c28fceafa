"""Roles: every URL of the app, and every admin page, answers each kind of caller as its role
allows; a URL added without saying who may use it fails the walk."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from monitor.models import (
    Alert,
    AlertState,
    Channel,
    DispatcherTick,
    Endpoint,
    JobStatus,
    Notification,
    Scan,
)
from monitor.services.roles import ROLES, assign_role, role_group
from tests.factories import make_endpoint, make_scored_run, make_user

pytestmark = pytest.mark.django_db

ANONYMOUS, NO_ROLE, VIEWER, EDITOR, ADMIN = "anonymous", "no role", "viewer", "editor", "admin"
CALLERS = [ANONYMOUS, NO_ROLE, VIEWER, EDITOR, ADMIN]
RANK = {NO_ROLE: 0, VIEWER: 1, EDITOR: 2, ADMIN: 3}
# Needed instead of a role: anyone may, logged in or not.
PUBLIC = "public"


@dataclass(frozen=True)
class Page:
    """Who may use a URL: each method it accepts, with the least role that may use it; and which
    object each of its URL arguments names."""

    methods: dict[str, str]
    args: dict[str, str] = field(default_factory=dict)


PAGES = {
    "endpoint-list": Page({"GET": VIEWER}),
    "endpoint-create": Page({"GET": EDITOR, "POST": EDITOR}),
    "endpoint-detail": Page({"GET": VIEWER}, {"pk": "endpoint"}),
    "endpoint-edit": Page({"GET": EDITOR, "POST": EDITOR}, {"pk": "endpoint"}),
    "endpoint-run-now": Page({"POST": EDITOR}, {"pk": "endpoint"}),
    "endpoint-toggle": Page({"POST": EDITOR}, {"pk": "endpoint"}),
    "endpoint-test-connection": Page({"POST": EDITOR}, {"pk": "endpoint"}),
    "endpoint-unpin-baseline": Page({"POST": EDITOR}, {"pk": "endpoint"}),
    "run-detail": Page({"GET": VIEWER}, {"pk": "run"}),
    "run-progress": Page({"GET": VIEWER}, {"pk": "run"}),
    "run-pin-baseline": Page({"POST": EDITOR}, {"pk": "run"}),
    "compare": Page({"GET": VIEWER}),
    "compare-tests": Page({"GET": VIEWER, "POST": VIEWER}, {"a": "run", "b": "later run"}),
    "compare-tests-retry": Page({"POST": VIEWER}, {"a": "run", "b": "later run"}),
    "alert-list": Page({"GET": VIEWER}),
    "alert-acknowledge": Page({"POST": EDITOR}, {"pk": "alert"}),
    "alert-silence": Page({"POST": EDITOR}, {"pk": "alert"}),
    "rule-create": Page({"GET": EDITOR, "POST": EDITOR}),
    "rule-edit": Page({"GET": EDITOR, "POST": EDITOR}, {"pk": "rule"}),
    "promptset-list": Page({"GET": VIEWER, "POST": EDITOR}),
    "promptset-detail": Page({"GET": VIEWER}, {"pk": "prompt set"}),
    "scan-list": Page({"GET": VIEWER, "POST": EDITOR}),
    "scan-detail": Page({"GET": VIEWER}, {"pk": "scan"}),
    "scan-progress": Page({"GET": VIEWER}, {"pk": "scan"}),
    "scan-download": Page({"GET": VIEWER}, {"pk": "scan", "what": "download"}),
    "healthz": Page({"GET": PUBLIC}),
    "login": Page({"GET": PUBLIC, "POST": PUBLIC}),
    "logout": Page({"POST": PUBLIC}),
}
# Outside the login, each behind its own token: the lab's models (tests/monitor/test_lab_view.py)
# and the Prometheus exporter (tests/monitor/test_prometheus.py).
OWN_AUTH = {"lab-chat", "lab-completions", "lab-models", "lab-model", "metrics"}
# Included URL confs, walked by their own tests: the admin below, the API in test_api_roles.py.
INCLUDED = {"admin/", "api/"}


@dataclass(frozen=True)
class AdminPages:
    """The least role that may open a model's admin list, and its add form (None: nobody)."""

    view: str
    add: str | None


ADMIN_PAGES = {
    "monitor.endpoint": AdminPages(VIEWER, EDITOR),
    "monitor.promptset": AdminPages(VIEWER, EDITOR),
    "monitor.promptsetversion": AdminPages(VIEWER, EDITOR),
    "monitor.alertrule": AdminPages(VIEWER, EDITOR),
    "monitor.run": AdminPages(VIEWER, None),
    "monitor.metricpoint": AdminPages(VIEWER, None),
    "monitor.alert": AdminPages(VIEWER, None),
    "monitor.channel": AdminPages(ADMIN, ADMIN),
    "monitor.notification": AdminPages(ADMIN, None),
    "auth.user": AdminPages(ADMIN, ADMIN),
    "auth.group": AdminPages(ADMIN, ADMIN),
}


def expected(caller: str, needed: str | None) -> str:
    if needed == PUBLIC:
        return "allowed"
    if caller == ANONYMOUS:
        return "sent to log in"
    return "allowed" if needed is not None and RANK[caller] >= RANK[needed] else "forbidden"


def outcome(response, method: str, login_url: str) -> str:
    """What the caller got, in the words of ``expected``."""
    status = response.status_code
    if status == 403:
        return "forbidden"
    if status == 302 and response.url.startswith(login_url + "?next="):
        return "sent to log in"
    # A page read is a page shown; a write may show its form again or redirect when done.
    if status == 200 or (method == "POST" and status == 302):
        return "allowed"
    return f"status {status}"


def client_for(caller: str) -> Client:
    client = Client()
    if caller != ANONYMOUS:
        client.force_login(make_user(None if caller == NO_ROLE else caller))
    return client


def staff_holding(*codenames: str):
    """A user of the admin with exactly these permissions, outside any role."""
    user = make_user(None)
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def objects(settings, unused_port, tmp_path) -> dict[str, int | str]:
    """One of each object a URL names: an endpoint nobody listens for, two scored runs, an open
    alert, a rule, a prompt set and a finished scan with its filtered corpus."""
    settings.TAILWATCH_EMBEDDINGS = False
    endpoint = make_endpoint(f"http://127.0.0.1:{unused_port}/v1")
    run = make_scored_run(endpoint, seed=1, vocabulary=2000)
    later = make_scored_run(endpoint, seed=2, vocabulary=2000)
    rule = endpoint.alert_rules.first()
    alert = Alert.objects.create(
        rule=rule, endpoint=endpoint, state=AlertState.FIRING, summary="a breach"
    )
    # A healthy install, so that /healthz answers 200 (its 503s have their own tests).
    Endpoint.objects.update(next_run_at=timezone.now() + timedelta(hours=1))
    DispatcherTick.record(timezone.now())
    scan = Scan.objects.create(
        corpus_name="crawl.txt", corpus_path=str(tmp_path / "corpus"), status=JobStatus.SUCCEEDED
    )
    Path(scan.filtered_path).write_text("kept\n")
    return {
        "scan": scan.pk,
        "download": "filtered",
        "endpoint": endpoint.pk,
        "run": run.pk,
        "later run": later.pk,
        "alert": alert.pk,
        "rule": rule.pk,
        "prompt set": endpoint.prompt_set_id,
    }


def test_every_url_says_who_may_use_it():
    named, included = set(), set()
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            included.add(str(entry.pattern))
        else:
            assert isinstance(entry, URLPattern) and entry.name, f"unnamed URL {entry.pattern}"
            named.add(entry.name)
    assert named == set(PAGES) | OWN_AUTH, "classify each URL in PAGES or OWN_AUTH"
    assert included == INCLUDED


@pytest.mark.parametrize("caller", CALLERS)
def test_each_url_answers_the_caller_as_its_role_allows(caller, objects):
    client = client_for(caller)
    login_url = resolve_url("login")
    wrong = []
    for name, page in PAGES.items():
        url = reverse(name, kwargs={arg: objects[kind] for arg, kind in page.args.items()})
        for method, needed in page.methods.items():
            response = client.get(url) if method == "GET" else client.post(url)
            got, want = outcome(response, method, login_url), expected(caller, needed)
            if got != want:
                wrong.append(f"{method} {url}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("caller", CALLERS)
def test_each_admin_page_answers_the_caller_as_its_role_allows(caller, objects):
    registry = {str(model._meta): model for model in admin.site._registry}
    assert set(registry) == set(ADMIN_PAGES)
    client = client_for(caller)
    # Django's admin sends anyone who may not enter it at all (not staff) to its own login.
    login_url = reverse("admin:login")
    wrong = []
    for model_name, pages in ADMIN_PAGES.items():
        app_label, model = model_name.split(".")
        first = registry[model_name].objects.order_by("pk").first()
        # A change page shows a user who may only view the object a read-only form.
        change = [("change", pages.view, [first.pk])] if first is not None else []
        for action, needed, args in [
            ("changelist", pages.view, []),
            ("add", pages.add, []),
            *change,
        ]:
            url = reverse(f"admin:{app_label}_{model}_{action}", args=args)
            got = outcome(client.get(url), "GET", login_url)
            want = "sent to log in" if caller in (ANONYMOUS, NO_ROLE) else expected(caller, needed)
            if got != want:
                wrong.append(f"{url}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_a_forbidden_page_says_why_in_the_sites_layout(client):
    client.force_login(make_user(VIEWER))
    response = client.post(reverse("endpoint-create"))
    assert response.status_code == 403
    assert "Your role does not allow this" in response.content.decode()


def test_an_editor_deletes_an_endpoint_and_its_history_in_the_admin(client, settings):
    settings.TAILWATCH_EMBEDDINGS = False
    endpoint = make_endpoint("http://127.0.0.1:9/v1")
    make_scored_run(endpoint, seed=1, vocabulary=2000)
    client.force_login(make_user(EDITOR))
    url = reverse("admin:monitor_endpoint_delete", args=[endpoint.pk])
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not type(endpoint).objects.exists()


def test_sending_a_test_notification_needs_the_right_to_change_the_channel(client):
    channel = Channel.objects.create(name="ops", kind="email", target="ops@example.org")
    client.force_login(staff_holding("view_channel"))
    client.post(
        reverse("admin:monitor_channel_changelist"),
        {"action": "send_test_notification", "_selected_action": [channel.pk]},
    )
    assert not Notification.objects.exists()


def test_the_prompts_of_a_version_need_their_own_right_to_change_them(client):
    prompt_set = make_endpoint("http://127.0.0.1:9/v1").prompt_set
    client.force_login(
        staff_holding("view_promptsetversion", "change_promptsetversion", "view_prompt")
    )
    page = client.get(
        reverse("admin:monitor_promptsetversion_change", args=[prompt_set.latest_version.pk])
    ).content.decode()
    assert "Write about topic 0." in page
    assert 'name="prompts-0-text"' not in page and 'name="prompts-0-DELETE"' not in page


def test_a_role_lost_from_the_database_comes_back_with_its_permissions():
    role_group(ROLES[EDITOR]).delete()
    editor = make_user(EDITOR)
    assert editor.has_perms(["monitor.add_endpoint", "monitor.run_endpoint"])
    assert not editor.has_perm("monitor.change_channel")


def test_a_user_holds_one_role_at_a_time():
    user = make_user(ADMIN)
    assign_role(user, ROLES[VIEWER])
    assert [group.name for group in user.groups.all()] == ["viewers"]
    user = type(user).objects.get(pk=user.pk)
    assert user.has_perm("monitor.view_endpoint") and not user.has_perm("auth.change_user")


@pytest.mark.parametrize(("role", "shown"), [(VIEWER, False), (EDITOR, True)])
def test_pages_show_only_the_buttons_the_role_may_use(client, objects, role, shown):
    client.force_login(make_user(role))
    pages = [
        reverse(name, kwargs={arg: objects[kind] for arg, kind in PAGES[name].args.items()})
        for name in ("endpoint-list", "endpoint-detail", "run-detail", "alert-list")
    ]
    html = "".join(client.get(url).content.decode() for url in pages)
    html += client.get(reverse("promptset-list")).content.decode()
    buttons = ["Add endpoint</a>", "Add rule</a>", "Upload</button>", "Silence</button>"]
    buttons += ["Run now</button>", "Test connection</button>", "Pin as baseline</button>"]
    for button in buttons:
        assert (button in html) is shown, button
