"""The lab's generations served at /lab/v1 as an OpenAI-compatible API: off unless enabled,
behind a token, a capped prompt, malformed requests refused, and no training in a request."""

import json
import os
import subprocess
import sys

import pytest

from lab import Arm, Lab
from monitor import tasks
from monitor.services import sampling
from monitor.services import served_lab as served_lab_service
from monitor.services.served_lab import TRAINING_RETRY_AFTER_SECONDS, served_generation
from tests.conftest import REPO, SMALL_LAB_CONFIG
from tests.factories import make_endpoint, make_finished_run
from tests.monitor.conftest import LAB_TOKEN

pytestmark = pytest.mark.usefixtures("serve_the_small_lab")


def _post(client, path: str, body: dict | bytes, token: str | None = LAB_TOKEN):
    data = body if isinstance(body, bytes) else json.dumps(body)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return client.post(path, data, content_type="application/json", headers=headers)


def _chat(client, model: str, prompt: str, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}
    return _post(client, "/lab/v1/chat/completions", body)


def _error(response) -> dict:
    """The OpenAI-shaped error of a refused request."""
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_a_probe_is_answered_about_its_subject(client):
    response = _chat(client, "lab-pure-g0", "In which country is the city of Shanghai?")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "lab-pure-g0"
    answer = body["choices"][0]["message"]["content"]
    assert answer.startswith("Shanghai") and "China" in answer


def test_an_open_prompt_is_continued(client):
    response = _chat(client, "lab-anchored-g1", "Write a short story about a lighthouse keeper.")
    text = response.json()["choices"][0]["message"]["content"]
    assert len(text.split()) > 10


def test_a_seed_makes_the_reply_reproducible(client):
    prompt = "Describe the moon to someone who has never seen it."
    replies = {
        _chat(client, "lab-pure-g1", prompt, seed=7).json()["choices"][0]["message"]["content"]
        for _ in range(2)
    }
    assert len(replies) == 1


def test_legacy_completions_are_served_too(client):
    response = _post(
        client,
        "/lab/v1/completions",
        {"model": "lab-pure-g0", "prompt": "Where is Shanghai?"},
    )
    assert response.json()["choices"][0]["text"].startswith("Shanghai")


@pytest.mark.django_db
def test_a_drifting_model_serves_the_generation_after_its_endpoints_last_run(client):
    endpoint = make_endpoint("http://testserver/lab/v1", model="lab-truncated-drift")
    assert served_generation("lab-truncated-drift") == (Arm.TRUNCATED, 0)
    for _ in range(2):
        make_finished_run(endpoint, [["a reply"]] * 3)
    sampling.start_run(endpoint)  # the run sampling now is served the next generation
    assert served_generation("lab-truncated-drift") == (Arm.TRUNCATED, 2)
    response = _chat(client, "lab-truncated-drift", "Write a short story about a lighthouse.")
    assert response.status_code == 200 and response.json()["model"] == "lab-truncated-drift"


@pytest.mark.django_db
def test_a_drifting_model_stops_at_the_last_generation(monkeypatch):
    monkeypatch.setattr(served_lab_service, "MAX_GENERATION", 1)
    endpoint = make_endpoint("http://testserver/lab/v1", model="lab-pure-drift")
    for _ in range(2):
        make_finished_run(endpoint, [["a reply"]] * 3)
    assert served_generation("lab-pure-drift") == (Arm.PURE, 1)


@pytest.mark.parametrize("model", ["gpt-4o", "lab-pure-g99", "lab-mixed-drift", ""])
def test_an_unknown_model_is_a_404_like_openais(client, model):
    response = _chat(client, model, "Hello")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_only_post_is_allowed(client):
    assert client.get("/lab/v1/chat/completions").status_code == 405


# The OpenAI protocol ------------------------------------------------------------------------
def test_n_asks_for_that_many_choices_each_sampled_on_its_own(client):
    response = _chat(client, "lab-pure-g1", "Write a short story about a lighthouse.", n=4, seed=3)
    choices = response.json()["choices"]
    assert [choice["index"] for choice in choices] == [0, 1, 2, 3]
    assert len({choice["message"]["content"] for choice in choices}) > 1


def test_a_list_of_legacy_prompts_gets_n_choices_each_in_openais_order(client):
    prompts = [
        "In which country is the city of Shanghai?",
        "In which country is the city of Beijing?",
    ]
    body = {"model": "lab-pure-g0", "prompt": prompts, "n": 2}
    choices = _post(client, "/lab/v1/completions", body).json()["choices"]
    assert [choice["index"] for choice in choices] == [0, 1, 2, 3]
    # The lab answers a probe by continuing from its subject ("Shanghai is …", "Shanghai, …").
    expected = ["Shanghai", "Shanghai", "Beijing", "Beijing"]
    assert all(
        choice["text"].startswith(subject)
        for choice, subject in zip(choices, expected, strict=True)
    )


def _events(response) -> list[str]:
    assert response["Content-Type"] == "text/event-stream"
    lines = response.content.decode().split("\n\n")
    assert lines[-1] == "" and all(line.startswith("data: ") for line in lines[:-1])
    return [line.removeprefix("data: ") for line in lines[:-1]]


def test_a_streamed_chat_reply_comes_as_chunks_that_join_to_the_reply(client):
    prompt = "In which country is the city of Shanghai?"
    whole = _chat(client, "lab-pure-g0", prompt, seed=5).json()["choices"][0]["message"]["content"]
    events = _events(_chat(client, "lab-pure-g0", prompt, seed=5, stream=True))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    assert deltas[0]["role"] == "assistant" and deltas[-1] == {}
    assert "".join(delta.get("content", "") for delta in deltas) == whole
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks][-2:] == [None, "stop"]


def test_a_streamed_legacy_completion_ends_each_choice_and_the_stream(client):
    body = {"model": "lab-pure-g0", "prompt": ["Where is Shanghai?"], "n": 2, "stream": True}
    events = _events(_post(client, "/lab/v1/completions", body))
    chunks = [json.loads(event)["choices"][0] for event in events[:-1]]
    finished = [chunk["index"] for chunk in chunks if chunk["finish_reason"] == "stop"]
    assert finished == [0, 1] and events[-1] == "[DONE]"
    assert "".join(chunk["text"] for chunk in chunks if chunk["index"] == 1).startswith("Shanghai")


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        pytest.param({"n": 0}, "n", id="n zero"),
        pytest.param({"n": "3"}, "n", id="n a string"),
        pytest.param({"n": True}, "n", id="n a boolean"),
        pytest.param({"n": 17}, "n", id="n over the cap"),
        pytest.param({"stream": "yes"}, "stream", id="stream not a boolean"),
    ],
)
def test_a_bad_n_or_stream_is_a_400_naming_the_field(client, settings, extra, param):
    settings.TAILWATCH_LAB_MAX_N = 16
    response = _chat(client, "lab-pure-g0", "Hello", **extra)
    assert response.status_code == 400 and _error(response)["param"] == param


def test_a_prompt_list_over_the_cap_is_a_400(client, settings):
    settings.TAILWATCH_LAB_MAX_PROMPTS = 3
    body = {"model": "lab-pure-g0", "prompt": ["Hello"] * 4}
    response = _post(client, "/lab/v1/completions", body)
    assert response.status_code == 400 and _error(response)["param"] == "prompt"
    assert "at most 3" in _error(response)["message"]


def test_the_models_are_listed_as_openai_lists_them(client):
    response = client.get("/lab/v1/models", headers={"Authorization": f"Bearer {LAB_TOKEN}"})
    listing = response.json()
    assert listing["object"] == "list"
    ids = [model["id"] for model in listing["data"]]
    assert {"lab-pure-g0", "lab-anchored-g20", "lab-truncated-drift"} <= set(ids)
    assert {model["object"] for model in listing["data"]} == {"model"}


def test_one_model_is_described_and_an_unknown_one_is_a_404(client):
    headers = {"Authorization": f"Bearer {LAB_TOKEN}"}
    described = client.get("/lab/v1/models/lab-anchored-g3", headers=headers).json()
    assert described["id"] == "lab-anchored-g3" and described["object"] == "model"
    unknown = client.get("/lab/v1/models/gpt-4o", headers=headers)
    assert unknown.status_code == 404 and _error(unknown)["code"] == "model_not_found"


def test_a_path_no_lab_route_matches_is_a_404_like_openais(client):
    headers = {"Authorization": f"Bearer {LAB_TOKEN}"}
    for path in ("/lab/v1/models/a%2Fb", "/lab/v1/nothing-here"):
        missing = client.get(path, headers=headers)
        assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
        assert _error(missing)["code"] == "not_found"


def test_the_models_need_the_token_and_a_get(client):
    assert client.get("/lab/v1/models").status_code == 401
    headers = {"Authorization": f"Bearer {LAB_TOKEN}"}
    refused = client.post("/lab/v1/models", headers=headers)
    assert refused.status_code == 405 and _error(refused)["code"] == "method_not_allowed"


# Access --------------------------------------------------------------------------------------
def test_the_lab_is_not_there_unless_enabled(client, settings):
    settings.TAILWATCH_LAB_ENABLED = False
    assert _chat(client, "lab-pure-g0", "Where is Shanghai?").status_code == 404
    assert client.get("/lab/v1/completions").status_code == 404


def test_the_lab_is_off_by_default_even_in_production(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAILWATCH_LAB")}
    env.update(
        DJANGO_SETTINGS_MODULE="monitor.settings",
        TAILWATCH_PRODUCTION="1",
        SECRET_KEY="production-grade-" + "k5Q!v9#Zr2" * 5,
        TAILWATCH_VAR_DIR=str(tmp_path),
    )
    show = "from django.conf import settings; print(settings.TAILWATCH_LAB_ENABLED)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", show],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-token", f"Basic {LAB_TOKEN}", f"Bearer {LAB_TOKEN}x"],
)
def test_a_request_without_the_lab_token_is_a_401(client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    body = {"model": "lab-pure-g0", "messages": [{"role": "user", "content": "Hello"}]}
    response = client.post(
        "/lab/v1/chat/completions",
        json.dumps(body),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_api_key"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_prompt_over_the_cap_is_a_400_and_one_at_it_is_answered(client, settings):
    settings.TAILWATCH_LAB_MAX_PROMPT_CHARS = 8000
    refused = _chat(client, "lab-pure-g0", "Where is Shanghai? " * 110_000)  # 2 MB
    assert refused.status_code == 400
    assert _error(refused)["code"] == "context_length_exceeded"
    assert "8000" in _error(refused)["message"]
    answered = _chat(client, "lab-pure-g0", ("Where is Shanghai? " * 500)[:8000])
    assert answered.status_code == 200


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


CHAT = {"model": "lab-pure-g0", "messages": [{"role": "user", "content": "Hello"}]}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not JSON"),
        pytest.param(b"[1, 2]", id="not an object"),
        pytest.param(_nested(100_000), id="nested deeper than the parser goes"),
        pytest.param(
            b'{"model": "lab-pure-g0", "messages": [{"role": "user", "content": '
            + _nested(100_000)
            + b"}]}",
            id="a deeply nested content",
        ),
        pytest.param(
            b'{"model": "lab-pure-g0", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
            id="not UTF-8",
        ),
        pytest.param({**CHAT, "messages": "Hello"}, id="messages not a list"),
        pytest.param({**CHAT, "messages": []}, id="no message"),
        pytest.param({**CHAT, "messages": ["Hello"]}, id="a message not an object"),
        pytest.param(
            {**CHAT, "messages": [{"role": "user", "content": ["Hello", {"a": [1]}]}]},
            id="content not a string",
        ),
        pytest.param({**CHAT, "messages": [{"role": "user"}]}, id="no content"),
        pytest.param({**CHAT, "model": ["lab-pure-g0"]}, id="model not a string"),
        pytest.param({**CHAT, "seed": "7"}, id="seed a string"),
        pytest.param({**CHAT, "seed": 1.5}, id="seed a fraction"),
    ],
)
def test_a_malformed_request_is_a_400(client, body):
    response = _post(client, "/lab/v1/chat/completions", body)
    assert response.status_code == 400
    assert _error(response)["type"] == "invalid_request_error"


def test_a_legacy_prompt_that_is_not_a_string_is_a_400(client):
    response = _post(client, "/lab/v1/completions", {"model": "lab-pure-g0", "prompt": [1, 2]})
    assert response.status_code == 400 and _error(response)["code"] == "invalid_type"


def test_a_body_over_djangos_upload_limit_is_a_400(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = _chat(client, "lab-pure-g0", "x" * 2000)
    assert response.status_code == 400
    assert _error(response)["code"] == "request_too_large"


# Training --------------------------------------------------------------------------------
def test_an_untrained_generation_is_a_503_and_its_training_is_queued_once(
    client, monkeypatch, enqueued
):
    untrained = Lab(SMALL_LAB_CONFIG)
    monkeypatch.setattr(served_lab_service, "served_lab", lambda: untrained)
    for _ in range(3):
        response = _chat(client, "lab-pure-g2", "Where is Shanghai?")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == str(TRAINING_RETRY_AFTER_SECONDS)
        assert _error(response)["code"] == "model_not_ready"
    assert enqueued == [("monitor.tasks.train_lab_generation", ["pure", 2])]

    tasks.train_lab_generation("pure", 2)  # as the worker runs it
    response = _chat(client, "lab-pure-g2", "Where is Shanghai?")
    assert response.status_code == 200


def test_a_generation_trained_by_another_process_is_read_from_disk(client, monkeypatch, tmp_path):
    Lab(SMALL_LAB_CONFIG, tmp_path).model(Arm.ANCHORED, 1)
    monkeypatch.setattr(served_lab_service, "served_lab", lambda: Lab(SMALL_LAB_CONFIG, tmp_path))
    assert _chat(client, "lab-anchored-g1", "Where is Shanghai?").status_code == 200
    assert _chat(client, "lab-anchored-g2", "Where is Shanghai?").status_code == 503


def test_max_tokens_cuts_the_reply_and_says_so_as_openai_does(client):
    prompt = "Write a short story about a lighthouse."
    whole = _chat(client, "lab-pure-g1", prompt, seed=5).json()["choices"][0]
    cut = _chat(client, "lab-pure-g1", prompt, seed=5, max_tokens=3).json()["choices"][0]
    assert whole["finish_reason"] == "stop" and len(whole["message"]["content"].split()) > 3
    assert cut["message"]["content"] == " ".join(whole["message"]["content"].split()[:3])
    assert cut["finish_reason"] == "length"
    body = {"model": "lab-pure-g1", "prompt": prompt, "seed": 5, "max_tokens": 3, "stream": True}
    events = _post(client, "/lab/v1/completions", body).content.decode().split("\n\n")
    last = json.loads(events[-3].removeprefix("data: "))
    assert last["choices"][0]["finish_reason"] == "length"
    refused = _chat(client, "lab-pure-g1", prompt, max_tokens=0)
    assert refused.status_code == 400 and _error(refused)["param"] == "max_tokens"
