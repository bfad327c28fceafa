"""Sampling a run in-process against the fake server: statuses, failures, resume and leases."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.clients.openai_compatible import Completion
from monitor.models import Endpoint, Run, RunStatus, RunTrigger, Sample
from monitor.services import sampling
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def instant_backoff(settings):
    settings.TAILWATCH_BACKOFF_BASE_SECONDS = 0.001


def test_a_run_samples_every_prompt_k_times(fake_llm):
    endpoint = make_endpoint(fake_llm.url)
    run = sampling.start_run(endpoint)
    assert run.samples_expected == 6 and run.status == RunStatus.QUEUED

    run = sampling.sample_run(run.pk)

    assert run.status == RunStatus.SUCCEEDED
    assert (run.samples_succeeded, run.samples_failed) == (6, 0)
    assert fake_llm.behaviour.requests == 6
    samples = Sample.objects.filter(run=run)
    assert sorted(samples.values_list("sample_index", flat=True)) == [0, 0, 0, 1, 1, 1]
    assert all(s.text and s.latency_ms is not None and s.completion_tokens for s in samples)
    assert run.started_at and run.finished_at and run.lease_token == ""


def test_a_run_freezes_the_request_settings(fake_llm):
    endpoint = make_endpoint(fake_llm.url, temperature=0.3)
    run = sampling.start_run(endpoint)
    endpoint.temperature = 1.5
    endpoint.save()
    assert run.request_params["temperature"] == 0.3


def test_transient_errors_are_retried_and_the_run_still_succeeds(fake_llm):
    fake_llm.behaviour.fail_next(2, status=429, retry_after=0)
    fake_llm.behaviour.fail_next(1, status=500)
    run = sampling.sample_run(sampling.start_run(make_endpoint(fake_llm.url, concurrency=1)).pk)
    assert run.status == RunStatus.SUCCEEDED
    assert fake_llm.behaviour.requests == 6 + 3
    assert Sample.objects.get(run=run, attempts=4).ok


def test_some_failed_samples_make_a_partial_run_with_an_error_summary(fake_llm):
    fake_llm.behaviour.malformed_next(1)
    fake_llm.behaviour.fail_next(1, status=400)
    run = sampling.sample_run(sampling.start_run(make_endpoint(fake_llm.url, concurrency=1)).pk)
    assert run.status == RunStatus.PARTIAL
    assert (run.samples_succeeded, run.samples_failed) == (4, 2)
    assert "2 of 6 samples failed" in run.error_summary
    assert "malformed response" in run.error_summary and "HTTP 400" in run.error_summary
    malformed = Sample.objects.get(run=run, error_kind="malformed response")
    assert "not JSON" in malformed.error and malformed.text == ""


def test_the_next_requests_go_out_before_the_finished_ones_are_written(fake_llm, monkeypatch):
    # Writing a sample waits for the database: the endpoint must not sit idle meanwhile.
    record_sample = sampling.record_sample
    requests_sent_while_writing = []

    def record_once_more_are_sent(run, prompt, index, outcome):
        waited = time.monotonic() + 5
        while fake_llm.behaviour.requests <= 2 and time.monotonic() < waited:
            time.sleep(0.01)
        requests_sent_while_writing.append(fake_llm.behaviour.requests)
        return record_sample(run, prompt, index, outcome)

    monkeypatch.setattr(sampling, "record_sample", record_once_more_are_sent)
    run = sampling.sample_run(sampling.start_run(make_endpoint(fake_llm.url, concurrency=2)).pk)
    assert run.status == RunStatus.SUCCEEDED and fake_llm.behaviour.requests == 6
    assert requests_sent_while_writing[0] > 2


def test_an_unreachable_endpoint_fails_the_run_with_the_reason(unused_port):
    endpoint = make_endpoint(
        f"http://127.0.0.1:{unused_port}/v1",
        concurrency=1,
        samples_per_prompt=10,
    )
    run = sampling.sample_run(sampling.start_run(endpoint).pk)
    assert run.status == RunStatus.FAILED
    assert run.error_summary.startswith("endpoint unreachable: ConnectError")
    # gave up after a few tries instead of waiting out every slot's retries
    assert sampling.UNREACHABLE_AFTER_FAILURES <= run.samples_failed < run.samples_expected


def test_a_missing_api_key_variable_fails_the_run(fake_llm, monkeypatch):
    monkeypatch.delenv("TAILWATCH_KEY_TEST", raising=False)
    endpoint = make_endpoint(fake_llm.url, api_key_env="TAILWATCH_KEY_TEST")
    run = sampling.sample_run(sampling.start_run(endpoint).pk)
    assert run.status == RunStatus.FAILED
    assert "TAILWATCH_KEY_TEST is not set" in run.error_summary
    assert fake_llm.behaviour.requests == 0


def test_a_variable_outside_the_allow_list_fails_the_run_without_sending_it(fake_llm, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "the-django-secret")
    endpoint = make_endpoint(fake_llm.url, api_key_env="SECRET_KEY")
    run = sampling.sample_run(sampling.start_run(endpoint).pk)
    assert run.status == RunStatus.FAILED
    assert "SECRET_KEY may not hold an API key" in run.error_summary
    assert "the-django-secret" not in run.error_summary and fake_llm.behaviour.requests == 0


def test_a_base_url_with_credentials_fails_the_run_without_showing_them(fake_llm):
    endpoint = make_endpoint(fake_llm.url.replace("http://", "http://ops:hunter2@"))
    run = sampling.sample_run(sampling.start_run(endpoint).pk)
    assert run.status == RunStatus.FAILED and "carries credentials" in run.error_summary
    assert "hunter2" not in run.error_summary and fake_llm.behaviour.requests == 0


def test_a_reply_with_unstorable_characters_is_stored_cleaned(fake_llm):
    fake_llm.behaviour.reply = lambda prompt, rng: "half \ud800 a pair, and a \x00 NUL"
    run = sampling.sample_run(sampling.start_run(make_endpoint(fake_llm.url)).pk)
    assert run.status == RunStatus.SUCCEEDED
    texts = set(Sample.objects.filter(run=run).values_list("text", flat=True))
    assert texts == {"half \ufffd a pair, and a \ufffd NUL"}


def test_a_reply_over_the_size_cap_is_a_failed_sample(fake_llm, settings):
    settings.TAILWATCH_MAX_REPLY_BYTES = 2000
    # Over the cap within the endpoint's max_tokens (256), which the fake honours.
    fake_llm.behaviour.reply = lambda prompt, rng: "longword " * (250 if "1" in prompt else 10)
    run = sampling.sample_run(sampling.start_run(make_endpoint(fake_llm.url, concurrency=1)).pk)
    too_large = Sample.objects.filter(run=run, error_kind="reply too large")
    assert too_large.exists() and all(sample.text == "" for sample in too_large)
    assert run.samples_failed == too_large.count() < run.samples_expected


def test_a_resumed_run_samples_only_the_missing_slots(fake_llm):
    run = sampling.start_run(make_endpoint(fake_llm.url))
    prompt = run.prompt_set_version.prompts.first()
    done = Completion("earlier", "stop", 1, 1, 5, 1)
    sampling.record_sample(run, prompt, 0, done)
    sampling.record_sample(run, prompt, 1, done)
    # the worker that wrote those died holding the run
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, attempts=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    run = sampling.sample_run(run.pk)

    assert run.status == RunStatus.SUCCEEDED and run.attempts == 2
    assert fake_llm.behaviour.requests == 4
    assert Sample.objects.filter(run=run).count() == 6
    assert Sample.objects.filter(run=run, text="earlier").count() == 2


def test_a_slot_is_written_once(fake_llm):
    run = sampling.start_run(make_endpoint(fake_llm.url))
    prompt = run.prompt_set_version.prompts.first()
    done = Completion("x", "stop", 1, 1, 5, 1)
    assert sampling.record_sample(run, prompt, 0, done) is True
    assert sampling.record_sample(run, prompt, 0, done) is False
    assert Sample.objects.filter(run=run).count() == 1


def test_a_run_held_by_a_live_worker_is_not_taken(fake_llm):
    run = sampling.start_run(make_endpoint(fake_llm.url))
    assert sampling.claim_run(run.pk, "worker-a") is not None
    assert sampling.claim_run(run.pk, "worker-b") is None
    assert sampling.sample_run(run.pk) is None
    later = timezone.now() + timedelta(seconds=sampling._lease_length().total_seconds() + 1)
    assert sampling.claim_run(run.pk, "worker-b", now=later) is not None


def test_a_finished_run_is_not_sampled_again(fake_llm):
    run = sampling.sample_run(sampling.start_run(make_endpoint(fake_llm.url)).pk)
    assert sampling.sample_run(run.pk) is None
    assert fake_llm.behaviour.requests == 6


def test_dispatch_starts_due_endpoints_and_plans_the_next_run(fake_llm):
    now = timezone.now()
    due = make_endpoint(fake_llm.url, name="due")
    later = make_endpoint(
        fake_llm.url, name="later", prompt_set=due.prompt_set, next_run_at=now + timedelta(hours=1)
    )
    make_endpoint(fake_llm.url, name="paused", prompt_set=due.prompt_set, enabled=False)

    started = sampling.dispatch_due_runs(now)

    assert [run.endpoint for run in started] == [due]
    assert started[0].trigger == RunTrigger.SCHEDULE
    due.refresh_from_db()
    assert due.next_run_at == now + timedelta(minutes=60)
    assert not later.runs.exists()
    # the same tick again starts nothing: the endpoint is no longer due
    assert sampling.dispatch_due_runs(now) == []


def test_dispatch_skips_an_endpoint_whose_last_run_is_still_going(fake_llm):
    endpoint = make_endpoint(fake_llm.url)
    sampling.start_run(endpoint)
    assert sampling.dispatch_due_runs() == []
    assert endpoint.runs.count() == 1
    endpoint.refresh_from_db()
    assert endpoint.next_run_at is not None


def test_an_endpoint_that_cannot_be_scheduled_does_not_stop_the_others(fake_llm, caplog):
    broken = make_endpoint(fake_llm.url, name="broken")
    healthy = make_endpoint(fake_llm.url, name="healthy", prompt_set=broken.prompt_set)
    # Written straight to the database, around the form's limits: about 3,800 years, as much as
    # an integer column holds on PostgreSQL too. Counted from a clock in the year 7000 it passes
    # the last date Python can hold, as 6·10⁹ minutes from today do on SQLite.
    Endpoint.objects.filter(pk=broken.pk).update(interval_minutes=2_000_000_000)
    far_ahead = timezone.now().replace(year=7000)

    started = sampling.dispatch_due_runs(far_ahead)

    assert [run.endpoint for run in started] == [healthy]
    assert f"endpoint {broken.pk} (broken): could not schedule its run" in caplog.text
    assert not broken.runs.exists()


def test_run_now_refuses_while_a_run_is_active(fake_llm):
    endpoint = make_endpoint(fake_llm.url)
    sampling.start_run(endpoint)
    with pytest.raises(sampling.RunNotStartedError, match="already running"):
        sampling.start_run(endpoint)


def test_stale_runs_are_requeued_and_poison_runs_given_up(fake_llm, settings):
    endpoint = make_endpoint(fake_llm.url)
    run = sampling.start_run(endpoint)
    past = timezone.now() - timedelta(hours=1)
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, lease_expires_at=past, enqueued_at=past, attempts=1
    )
    assert sampling.requeue_stale_runs() == [run]
    # just re-queued: not again until another lease length has passed
    assert sampling.requeue_stale_runs() == []

    Run.objects.filter(pk=run.pk).update(enqueued_at=past, attempts=sampling.MAX_RUN_ATTEMPTS)
    assert sampling.requeue_stale_runs() == []
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "gave up" in run.error_summary
