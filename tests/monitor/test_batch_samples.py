"""A prompt's samples asked for in one request (n) where the endpoint batches samples, one
request per sample otherwise, and the fallback when a server gives fewer or refuses n."""

import json
import threading

import pytest

from monitor.clients.egress import EgressPolicy
from monitor.clients.openai_compatible import Completion, CompletionFailure, OpenAICompatibleClient
from monitor.fake_llm import NSupport, fake_reply
from monitor.forms import EndpointForm
from monitor.models import RunStatus, Sample
from monitor.services import sampling
from tests.factories import make_endpoint, make_prompt_set
from tests.monitor.test_endpoints import form_data

PROMPT = "Write about the sea."

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def instant_backoff(settings):
    settings.TAILWATCH_BACKOFF_BASE_SECONDS = 0.001


@pytest.fixture
def replies_written(fake_llm) -> list[str]:
    """Every reply the fake writes, one a choice: what the endpoint was asked to sample."""
    written, lock = [], threading.Lock()

    def counted_reply(prompt, rng):
        with lock:
            written.append(prompt)
        return fake_reply(prompt, rng)

    fake_llm.behaviour.reply = counted_reply
    return written


def _client(fake_llm, provider_kind: str = "chat") -> OpenAICompatibleClient:
    return OpenAICompatibleClient(
        base_url=fake_llm.url,
        model="fake",
        provider_kind=provider_kind,
        batch_samples=True,
        egress_policy=EgressPolicy(allow_private=True),
    )


# The client ------------------------------------------------------------------------------------
@pytest.mark.parametrize("provider_kind", ["chat", "completions"])
def test_the_client_gets_n_samples_in_one_request(fake_llm, provider_kind):
    with _client(fake_llm, provider_kind) as client:
        samples = client.complete_samples(PROMPT, 3)
    assert len(samples) == 3 and all(isinstance(sample, Completion) for sample in samples)
    assert len({sample.text for sample in samples}) == 3
    assert fake_llm.behaviour.requests == 1 and client.batch_fallback == ""


def test_a_server_that_ignores_n_turns_batching_off_and_says_so(fake_llm):
    fake_llm.behaviour.n_support = NSupport.IGNORE
    with _client(fake_llm) as client:
        assert len(client.complete_samples(PROMPT, 3)) == 1
        assert not client.batches_samples
        assert "asked for 3 samples in one request (n), got 1" in client.batch_fallback
        assert len(client.complete_samples(PROMPT, 3)) == 1  # one request per sample now


def test_a_server_that_refuses_n_turns_batching_off_and_says_so(fake_llm):
    fake_llm.behaviour.n_support = NSupport.REJECT
    with _client(fake_llm) as client:
        assert client.complete_samples(PROMPT, 3) == []
        assert "refused n=3" in client.batch_fallback and "HTTP 400" in client.batch_fallback
        assert isinstance(client.complete_samples(PROMPT, 3)[0], Completion)


def test_a_failed_batch_is_the_failure_of_every_sample_it_asked_for(fake_llm):
    fake_llm.behaviour.fail_next(1, status=404)
    with _client(fake_llm) as client:
        samples = client.complete_samples(PROMPT, 3)
    assert [sample.kind for sample in samples] == ["HTTP 404"] * 3
    assert all(isinstance(sample, CompletionFailure) for sample in samples)
    assert client.batches_samples


def _choices_body(*choices) -> bytes:
    return json.dumps({"choices": list(choices)}).encode()


def test_a_batch_keeps_its_good_choices_and_falls_back_for_the_broken_ones(fake_llm):
    good = {"message": {"content": "Waves."}, "finish_reason": "stop"}
    fake_llm.behaviour.malformed_next(1, _choices_body(good, {"message": 5}, None))
    with _client(fake_llm) as client:
        samples = client.complete_samples(PROMPT, 3)
        assert [sample.text for sample in samples] == ["Waves."]
        assert "asked for 3 samples in one request (n), got 1" in client.batch_fallback
        assert "choices[1].message.content" in client.batch_fallback
        assert isinstance(client.complete_samples(PROMPT, 3)[0], Completion)
        assert fake_llm.behaviour.requests == 2


@pytest.mark.parametrize(
    "body", [b'{"choices": []}', _choices_body(None, None), b"[]", b'{"choices": null}']
)
def test_a_batch_without_a_usable_choice_falls_back_rather_than_failing(fake_llm, body):
    fake_llm.behaviour.malformed_next(1, body)
    with _client(fake_llm) as client:
        assert client.complete_samples(PROMPT, 3) == []
        assert "asked for 3 samples in one request (n), got 0" in client.batch_fallback
        assert isinstance(client.complete_samples(PROMPT, 3)[0], Completion)


def test_a_single_sample_without_a_usable_choice_is_still_a_failure(fake_llm):
    fake_llm.behaviour.malformed_next(1, b'{"choices": [{"message": 5}]}')
    with _client(fake_llm) as client:
        [sample] = client.complete_samples(PROMPT, 1)
    assert isinstance(sample, CompletionFailure) and sample.kind == "malformed response"
    assert client.batches_samples and client.batch_fallback == ""


# Runs ------------------------------------------------------------------------------------------
def _sampled_run(fake_llm, **endpoint_fields):
    endpoint = make_endpoint(
        fake_llm.url,
        prompt_set=make_prompt_set(open_prompts=4),
        samples_per_prompt=3,
        **endpoint_fields,
    )
    return sampling.sample_run(sampling.start_run(endpoint).pk)


def _slots(run) -> list[tuple[int, int]]:
    return sorted(Sample.objects.filter(run=run).values_list("prompt_id", "sample_index"))


def test_a_batching_endpoint_is_sampled_in_a_request_per_prompt(fake_llm, replies_written):
    run = _sampled_run(fake_llm, batch_samples=True)
    assert run.status == RunStatus.SUCCEEDED and run.samples_succeeded == 15
    assert fake_llm.behaviour.requests == 5  # 4 open prompts and a probe
    assert len(replies_written) == 15 and len(set(_slots(run))) == 15
    assert run.sampling_note == ""


def test_an_endpoint_that_does_not_batch_gets_a_request_per_sample(fake_llm, replies_written):
    run = _sampled_run(fake_llm, batch_samples=False)
    assert run.status == RunStatus.SUCCEEDED and fake_llm.behaviour.requests == 15


@pytest.mark.parametrize(
    ("n_support", "said"), [(NSupport.IGNORE, "got 1"), (NSupport.REJECT, "refused n=3")]
)
def test_a_server_that_does_not_honour_n_still_fills_every_slot_once(
    fake_llm, replies_written, n_support, said
):
    fake_llm.behaviour.n_support = n_support
    run = _sampled_run(fake_llm, batch_samples=True, concurrency=2)
    assert run.status == RunStatus.SUCCEEDED and run.samples_succeeded == 15
    assert len(replies_written) == 15  # nothing sampled twice, nothing lost
    assert len(set(_slots(run))) == 15
    assert said in run.sampling_note and "one request per sample" in run.sampling_note.lower()


def test_a_resumed_batching_run_asks_only_for_the_missing_samples(fake_llm, replies_written):
    endpoint = make_endpoint(fake_llm.url, samples_per_prompt=3, batch_samples=True)
    run = sampling.start_run(endpoint)
    first_prompt = run.prompt_set_version.prompts.first()
    done = Completion("an earlier worker's", "stop", None, None, latency_ms=1, attempts=1)
    for index in (0, 2):
        sampling.record_sample(run, first_prompt, index, done)

    run = sampling.sample_run(run.pk)

    assert run.status == RunStatus.SUCCEEDED and len(set(_slots(run))) == 9
    assert len(replies_written) == 7 and fake_llm.behaviour.requests == 3
    assert Sample.objects.get(run=run, prompt=first_prompt, sample_index=1).text != done.text


def test_batch_samples_is_an_endpoint_setting_a_run_freezes(fake_llm):
    form = EndpointForm(data=form_data(batch_samples="on"))
    assert form.is_valid(), form.errors
    endpoint = form.save()
    assert endpoint.batch_samples
    run = sampling.start_run(endpoint)
    endpoint.batch_samples = False
    endpoint.save()
    assert run.request_params["batch_samples"] is True


def test_the_run_and_endpoint_pages_say_how_samples_are_asked_for(fake_llm, user_client):
    fake_llm.behaviour.n_support = NSupport.IGNORE
    run = _sampled_run(fake_llm, batch_samples=True)
    run_page = user_client.get(run.get_absolute_url()).content.decode()
    assert "asked for 3 samples in one request (n), got 1" in run_page
    endpoint_page = user_client.get(run.endpoint.get_absolute_url()).content.decode()
    assert "a prompt's samples in one request (n)" in endpoint_page
