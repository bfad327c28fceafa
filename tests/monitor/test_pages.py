"""The pages users rely on, through Django's test client: login, endpoints, runs, uploads."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from monitor.clients.openai_compatible import Completion, CompletionFailure
from monitor.models import Endpoint, PromptSet, RunStatus
from monitor.services import sampling
from tests.factories import make_endpoint, make_prompt_set

pytestmark = pytest.mark.django_db

HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"


@pytest.fixture
def user_client(client):
    client.force_login(User.objects.create_user("ops", password="pw-long-enough"))
    return client


def test_pages_need_a_login(client):
    response = client.get(reverse("endpoint-list"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_empty_install_says_what_to_do_next(user_client):
    page = user_client.get(reverse("endpoint-list")).content.decode()
    assert "No endpoints yet" in page and reverse("endpoint-create") in page


def test_the_endpoint_list_shows_the_last_run(user_client, fake_llm):
    endpoint = make_endpoint(fake_llm.url)
    run = sampling.sample_run(sampling.start_run(endpoint).pk)
    page = user_client.get(reverse("endpoint-list")).content.decode()
    assert endpoint.name in page and run.get_absolute_url() in page and "Succeeded" in page


def test_a_run_page_shows_outputs_escaped_and_errors(user_client):
    run = sampling.start_run(make_endpoint("http://127.0.0.1:9/v1"))
    first, second = run.prompt_set_version.prompts.all()[:2]
    sampling.record_sample(run, first, 0, Completion(HOSTILE, "stop", 3, 9, 120, 1))
    sampling.record_sample(
        run, second, 0, CompletionFailure("HTTP 500", "HTTP 500 from x: <b>boom</b>", 4, 900, True)
    )
    page = user_client.get(run.get_absolute_url()).content.decode()
    assert HOSTILE not in page and "<b>boom</b>" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;b&gt;boom&lt;/b&gt;" in page and "after 4 attempts" in page


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


def test_run_progress_is_served_as_json(user_client, fake_llm):
    run = sampling.start_run(make_endpoint(fake_llm.url))
    progress = user_client.get(reverse("run-progress", args=[run.pk])).json()
    assert progress == {
        "status": "queued",
        "active": True,
        "done": 0,
        "expected": 6,
        "failed": 0,
        "percent": 0,
    }


def test_uploading_a_prompt_set_and_seeing_row_errors(user_client):
    good = b'{"id": "a", "text": "Hello?"}\n{"id": "b", "text": "Capital?", "gold": ["X"]}\n'
    response = user_client.post(
        reverse("promptset-list"), {"name": "mine", "file": _upload("p.jsonl", good)}
    )
    prompt_set = PromptSet.objects.get(name="mine")
    assert response["Location"] == prompt_set.get_absolute_url()
    page = user_client.get(prompt_set.get_absolute_url()).content.decode()
    assert "Capital?" in page and "1 open, 1 probe" in page

    bad = b'{"id": "a", "text": ""}\n{"id": "b", "text": "<i>Q</i>", "kind": "probe"}\n'
    response = user_client.post(
        reverse("promptset-list"), {"name": "mine", "file": _upload("p.jsonl", bad)}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "line 1: &#x27;text&#x27; is missing or empty" in page
    assert "line 2: a probe needs at least one &#x27;gold&#x27; answer" in page
    assert prompt_set.versions.count() == 1


def test_the_demo_model_answers_the_openai_protocol(client):
    response = client.post(
        "/demo/v1/chat/completions",
        data='{"model": "demo", "messages": [{"role": "user", "content": "Tell me of rivers"}]}',
        content_type="application/json",
    )
    body = response.json()
    assert response.status_code == 200 and body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"]
    assert client.post("/demo/v1/completions", data="nope", content_type="x").status_code == 400


def test_healthz_reports_the_database(client):
    assert client.get("/healthz").json()["ok"] is True


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")
