"""The health check: 200 while the pipeline moves, 503 naming each check that has stood still,
and never redirected to https."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor import tasks
from monitor.models import Channel, DispatcherTick, Endpoint, Notification, Run, RunStatus
from monitor.services import sampling
from tests.factories import (
    english_texts,
    make_endpoint,
    make_finished_run,
    make_prompt_set,
    make_user,
)

pytestmark = pytest.mark.django_db

AN_HOUR_AGO = timedelta(hours=1)


@pytest.fixture
def endpoint(settings):
    settings.TAILWATCH_EMBEDDINGS = False
    return make_endpoint(
        "http://127.0.0.1:9/v1", prompt_set=make_prompt_set(open_prompts=2, probes=0)
    )


def health(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, response.json()


def test_healthz_is_ok_while_the_dispatcher_ticks_and_nothing_waits(client, endpoint):
    tasks.dispatch_due_runs()  # a beat tick: starts the endpoint's first run
    status, body = health(client)
    assert status == 200 and body["ok"] is True and body["failing"] == []
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["dispatcher"]["last_tick"] == DispatcherTick.last().isoformat()


def test_healthz_is_not_ok_before_the_dispatcher_has_ever_ticked(client, endpoint):
    status, body = health(client)
    assert status == 503 and body["ok"] is False and body["failing"] == ["dispatcher"]
    assert body["checks"]["dispatcher"]["last_tick"] is None


def a_stale_tick(endpoint):
    DispatcherTick.record(timezone.now() - timedelta(minutes=5))
    return None


def an_endpoint_left_unscheduled(endpoint):
    Endpoint.objects.filter(pk=endpoint.pk).update(next_run_at=timezone.now() - AN_HOUR_AGO)
    return endpoint.name


def a_run_sampling_past_its_lease(endpoint):
    run = sampling.start_run(endpoint)
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, lease_expires_at=timezone.now() - AN_HOUR_AGO
    )
    return run.pk


def a_run_queued_an_hour_ago(endpoint):
    run = sampling.start_run(endpoint)
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - AN_HOUR_AGO)
    return run.pk


def a_run_finished_and_unscored_for_an_hour(endpoint):
    run = make_finished_run(endpoint, english_texts(1, 2000, 2, 2))
    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - AN_HOUR_AGO)
    return run.pk


def a_notification_unsent_for_an_hour(endpoint):
    channel = Channel.objects.create(name="ops", kind="email", target="ops@example.org")
    notification = Notification.objects.create(
        channel=channel, is_test=True, created_at=timezone.now() - AN_HOUR_AGO
    )
    return notification.pk


@pytest.mark.parametrize(
    "fault, check",
    [
        (a_stale_tick, "dispatcher"),
        (an_endpoint_left_unscheduled, "overdue_endpoints"),
        (a_run_sampling_past_its_lease, "stuck_runs"),
        (a_run_queued_an_hour_ago, "stuck_runs"),
        (a_run_finished_and_unscored_for_an_hour, "unscored_runs"),
        (a_notification_unsent_for_an_hour, "unsent_notifications"),
    ],
)
def test_healthz_says_503_and_names_the_check_that_stood_still(client, endpoint, fault, check):
    tasks.dispatch_due_runs()  # fresh: the endpoint is scheduled, the tick just recorded
    Run.objects.all().delete()
    culprit = fault(endpoint)

    status, body = health(client)
    assert status == 503 and body["ok"] is False and body["failing"] == [check]
    if culprit is not None:
        # Anyone may probe; only a user who may read the pages is told which rows failed.
        assert body["checks"][check]["count"] == 1 and "first" not in body["checks"][check]
        client.force_login(make_user("viewer"))
        assert health(client)[1]["checks"][check]["first"] == [culprit]


def test_healthz_is_not_redirected_to_https(client, settings, endpoint):
    settings.SECURE_SSL_REDIRECT = True
    tasks.dispatch_due_runs()
    assert client.get("/login/").status_code == 301  # every other page is
    assert client.get("/healthz").status_code == 200
