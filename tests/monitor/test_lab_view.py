"""The lab's generations served at /lab/v1 as an OpenAI-compatible API."""

import json

import pytest

from lab import Arm
from monitor.services import sampling
from monitor.services import served_lab as served_lab_service
from monitor.services.served_lab import served_generation
from monitor.views import lab as lab_view
from tests.factories import make_endpoint, make_finished_run


@pytest.fixture(autouse=True)
def serve_the_small_lab(small_lab, monkeypatch):
    monkeypatch.setattr(lab_view, "served_lab", lambda: small_lab)


def _post(client, path: str, body: dict):
    return client.post(path, json.dumps(body), content_type="application/json")


def _chat(client, model: str, prompt: str, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}
    return _post(client, "/lab/v1/chat/completions", body)


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


def test_a_malformed_body_is_a_400(client):
    response = client.post("/lab/v1/chat/completions", "not json", content_type="application/json")
    assert response.status_code == 400


def test_only_post_is_allowed(client):
    assert client.get("/lab/v1/chat/completions").status_code == 405
