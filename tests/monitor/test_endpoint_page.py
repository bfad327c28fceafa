"""The endpoint page and its actions: adding one, run now, pause, charts, baselines, connection."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from monitor import queue, tasks
from monitor.models import Endpoint, RunStatus
from monitor.services import connection, sampling
from tests.factories import make_endpoint, make_prompt_set

pytestmark = pytest.mark.django_db


def test_adding_an_endpoint_through_the_form(user_client):
    prompt_set = make_prompt_set()
    response = user_client.post(
        reverse("endpoint-create"),
        {
            "name": "vllm-prod",
            "model_family": "support",
            "version_label": "v3",
            "provider_kind": "chat",
            "base_url": "http://vllm:8000/v1",
            "model": "support-13b",
            "api_key": "sk-never-shown",
            "prompt_set": prompt_set.pk,
            "samples_per_prompt": 5,
            "interval_minutes": 30,
            "temperature": 0.8,
            "top_p": 1,
            "max_tokens": 200,
            "extra_params": "{}",
            "concurrency": 4,
            "timeout_seconds": 60,
            "enabled": "on",
        },
    )
    endpoint = Endpoint.objects.get(name="vllm-prod")
    assert response.status_code == 302 and response["Location"] == endpoint.get_absolute_url()
    detail = user_client.get(endpoint.get_absolute_url()).content.decode()
    edit = user_client.get(reverse("endpoint-edit", args=[endpoint.pk])).content.decode()
    assert "sk-never-shown" not in detail + edit
    assert "stored, encrypted" in detail and "No runs yet" in detail


def test_run_now_pause_and_resume(user_client, fake_llm):
    endpoint = make_endpoint(fake_llm.url)
    user_client.post(reverse("endpoint-run-now", args=[endpoint.pk]))
    assert endpoint.runs.get().status == RunStatus.QUEUED
    response = user_client.post(reverse("endpoint-run-now", args=[endpoint.pk]), follow=True)
    assert "already running" in response.content.decode()

    user_client.post(reverse("endpoint-toggle", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    user_client.post(reverse("endpoint-toggle", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.enabled


@pytest.mark.django_db(
    transaction=True
)  # the message goes out as the run commits, as in production
def test_run_now_while_the_broker_is_down_queues_the_run_for_the_dispatcher(
    user_client, fake_llm, monkeypatch, enqueued, settings
):
    endpoint = make_endpoint(fake_llm.url, next_run_at=timezone.now() + timedelta(days=1))
    record = queue.app.send_task  # the suite's stand-in for a reachable broker

    def broker_down(name, args=(), **options):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(queue.app, "send_task", broker_down)
    response = user_client.post(reverse("endpoint-run-now", args=[endpoint.pk]))

    assert response.status_code == 302
    run = endpoint.runs.get()
    assert run.status == RunStatus.QUEUED and run.enqueued_at is None
    page = user_client.get(response["Location"]).content.decode()
    assert f"Run {run.pk} is queued, but the task queue cannot be reached" in page

    # The broker is back: a dispatcher tick a lease length later sends the run's message.
    monkeypatch.setattr(queue.app, "send_task", record)
    with time_machine.travel(timedelta(seconds=settings.TAILWATCH_RUN_LEASE_SECONDS + 1)):
        assert tasks.dispatch_due_runs()["requeued"] == [run.pk]
    assert enqueued == [(queue.SAMPLE_RUN, [run.pk])]
    run.refresh_from_db()
    assert run.enqueued_at is not None


def test_editing_the_interval_to_thousands_of_years_is_refused_on_the_form(user_client):
    endpoint = make_endpoint("http://127.0.0.1:9/v1")
    sampling.start_run(endpoint)  # a last run, from which a new interval is counted
    data = {
        "name": endpoint.name,
        "model_family": endpoint.model_family,
        "provider_kind": endpoint.provider_kind,
        "base_url": endpoint.base_url,
        "model": endpoint.model,
        "prompt_set": endpoint.prompt_set_id,
        "samples_per_prompt": endpoint.samples_per_prompt,
        "interval_minutes": 6_000_000_000,
        "temperature": endpoint.temperature,
        "top_p": endpoint.top_p,
        "max_tokens": endpoint.max_tokens,
        "extra_params": "{}",
        "concurrency": endpoint.concurrency,
        "timeout_seconds": endpoint.timeout_seconds,
        "enabled": "on",
    }
    response = user_client.post(reverse("endpoint-edit", args=[endpoint.pk]), data)
    assert response.status_code == 200
    assert "At most a year (525,600 minutes)." in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.interval_minutes == 60


def test_the_endpoint_page_embeds_downsampled_series_for_its_charts(user_client, family):
    response = user_client.get(family.collapsed.get_absolute_url() + "?range=7d")
    charts = {chart["metric"]: chart for chart in response.context["charts"]}
    distinct = charts["distinct_2_matched"]
    assert [len(distinct["series"][0]["t"]), distinct["baseline"]] == [
        2,
        family.collapsed_runs[0].report["metrics"]["distinct_2_matched"]["value"],
    ]
    assert [marker["kind"] for marker in distinct["markers"]] == ["fired"]
    page = response.content.decode()
    assert 'id="endpoint-charts" type="application/json"' in page
    assert page.count('<td data-stage="evaluated">Evaluated</td>') == 2  # each run's stage
    assert user_client.get(family.collapsed.get_absolute_url() + "?range=bogus").status_code == 200


def test_only_a_good_run_can_be_pinned_as_baseline(user_client, family, unused_port):
    from tests.browser.scenario import sample_now

    good = family.healthy_runs[0]
    user_client.post(reverse("run-pin-baseline", args=[good.pk]))
    family.healthy.refresh_from_db()
    assert family.healthy.baseline_run_id == good.pk

    Endpoint.objects.filter(pk=family.healthy.pk).update(
        base_url=f"http://127.0.0.1:{unused_port}/v1"
    )
    failed = sample_now(Endpoint.objects.get(pk=family.healthy.pk))
    response = user_client.post(reverse("run-pin-baseline", args=[failed.pk]), follow=True)
    assert "cannot be the baseline" in response.content.decode()
    user_client.post(reverse("endpoint-unpin-baseline", args=[family.healthy.pk]))
    family.healthy.refresh_from_db()
    assert family.healthy.baseline_run_id is None


def test_the_connection_test_shows_the_error_escaped(user_client, unused_port):
    endpoint = make_endpoint(f"http://127.0.0.1:{unused_port}/v1")
    page = user_client.post(reverse("endpoint-test-connection", args=[endpoint.pk]))
    assert "No reply" in page.content.decode() and "connection-error" in page.content.decode()


def test_a_malformed_base_url_is_a_form_error(user_client):
    page = user_client.post(
        reverse("endpoint-create"),
        {"name": "bad", "base_url": "http://[::1/", "prompt_set": make_prompt_set().pk},
    )
    assert page.status_code == 200 and "Enter an http" in page.content.decode()


def test_the_connection_test_shows_a_reply_with_unstorable_characters(user_client, fake_llm):
    fake_llm.behaviour.reply = lambda prompt, rng: "odd \ud800 reply\x00"
    endpoint = make_endpoint(fake_llm.url)
    page = user_client.post(reverse("endpoint-test-connection", args=[endpoint.pk]))
    assert page.status_code == 200 and "odd \ufffd reply\ufffd" in page.content.decode()


def test_the_connection_test_does_not_wait_out_a_long_retry_after(user_client, fake_llm):
    fake_llm.behaviour.fail_next(1, status=429, retry_after=30)
    endpoint = make_endpoint(fake_llm.url)
    started = time.monotonic()
    page = user_client.post(reverse("endpoint-test-connection", args=[endpoint.pk]))
    assert time.monotonic() - started < 10
    assert "Retry-After 30s" in page.content.decode()


def test_the_connection_test_ends_by_its_deadline_however_slow_the_reply(
    user_client, fake_llm, monkeypatch
):
    monkeypatch.setattr(connection, "CONNECTION_TIMEOUT_SECONDS", 1.0)
    fake_llm.behaviour.drip_next(2, seconds_per_byte=0.2)
    endpoint = make_endpoint(fake_llm.url)
    started = time.monotonic()
    page = user_client.post(reverse("endpoint-test-connection", args=[endpoint.pk]))
    assert time.monotonic() - started < 10
    assert "No reply" in page.content.decode() and "timeout" in page.content.decode()
