"""What answers without a login: the health check and the demo model."""

import pytest

pytestmark = pytest.mark.django_db


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
