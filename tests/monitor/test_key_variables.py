"""Keys held in TAILWATCH_KEY_ variables are the operator's: only an admin names one for an
endpoint, and the key is sent only to the server it was bound to, whoever edits the base URL."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.urls import reverse

from monitor.models import ApiToken, Endpoint
from monitor.services import connection
from tests.factories import make_endpoint, make_user
from tests.monitor.test_endpoints import form_data

pytestmark = pytest.mark.django_db

VARIABLE, OPERATOR_KEY = "TAILWATCH_KEY_OPENAI", "sk-operator-only"
CHAT_REPLY = {"choices": [{"message": {"content": "hello"}, "finish_reason": "stop"}]}


class KeyRecorder(BaseHTTPRequestHandler):
    """A server that answers every chat request and records the Authorization header sent."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.authorizations.append(self.headers.get("Authorization"))
        body = json.dumps(CHAT_REPLY).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def listener():
    """Another server, whose owner would like the operator's key: (its base URL, the
    Authorization headers it received)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeyRecorder)
    server.authorizations = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.authorizations
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def operator_key(monkeypatch):
    monkeypatch.setenv(VARIABLE, OPERATOR_KEY)


def page_client(role: str) -> Client:
    client = Client()
    client.force_login(make_user(role))
    return client


def api_client(role: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(make_user(role))}")


def test_an_editor_cannot_name_a_key_variable_on_the_page(listener):
    page = page_client("editor").post(
        reverse("endpoint-create"), form_data(base_url=listener[0], api_key_env=VARIABLE)
    )
    assert page.status_code == 200 and "Only an admin may name a key variable" in page.text
    assert not Endpoint.objects.exists()


def test_an_editor_cannot_name_a_key_variable_through_the_api(listener):
    endpoint = make_endpoint(listener[0])
    api = api_client("editor")
    created = api.post(
        "/api/endpoints/",
        {**form_data(base_url=listener[0], api_key_env=VARIABLE), "extra_params": {}},
        content_type="application/json",
    )
    changed = api.patch(
        f"/api/endpoints/{endpoint.pk}/", {"api_key_env": VARIABLE}, content_type="application/json"
    )
    for response in (created, changed):
        assert response.status_code == 400
        assert "Only an admin may name a key variable" in response.json()["api_key_env"][0]
    assert not Endpoint.objects.exclude(api_key_env="").exists()


def test_an_admin_names_a_key_variable_and_the_key_is_bound_to_that_server(listener):
    url, authorizations = listener
    created = api_client("admin").post(
        "/api/endpoints/",
        {**form_data(base_url=url, api_key_env=VARIABLE), "extra_params": {}},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    endpoint = Endpoint.objects.get(pk=created.json()["id"])
    assert endpoint.api_key_origin == url.removesuffix("/v1")
    assert connection.check_connection(endpoint).text == "hello"
    assert authorizations == [f"Bearer {OPERATOR_KEY}"]


def test_an_editor_cannot_move_a_key_variable_to_another_server(fake_llm, listener):
    endpoint = make_endpoint(fake_llm.url, api_key_env=VARIABLE)
    page = page_client("editor").post(
        reverse("endpoint-edit", args=[endpoint.pk]),
        form_data(name=endpoint.name, base_url=listener[0], api_key_env=VARIABLE),
    )
    assert page.status_code == 200 and f"The key from ${VARIABLE} is sent only to" in page.text
    response = api_client("editor").patch(
        f"/api/endpoints/{endpoint.pk}/", {"base_url": listener[0]}, content_type="application/json"
    )
    assert response.status_code == 400 and "base_url" in response.json()
    assert Endpoint.objects.get(pk=endpoint.pk).base_url == fake_llm.url


def test_an_editor_may_edit_other_fields_or_remove_the_key_variable(fake_llm):
    endpoint = make_endpoint(fake_llm.url, api_key_env=VARIABLE)
    api = api_client("editor")
    path = f"/api/endpoints/{endpoint.pk}/"
    assert api.patch(path, {"max_tokens": 64}, content_type="application/json").status_code == 200
    removed = api.patch(path, {"api_key_env": ""}, content_type="application/json")
    assert removed.status_code == 200 and removed.json()["api_key_source"] == "none"


def test_a_key_variable_is_never_sent_to_a_server_it_was_not_bound_to(fake_llm, listener):
    url, authorizations = listener
    endpoint = make_endpoint(fake_llm.url, api_key_env=VARIABLE)
    # However the base URL changed (a shell, a restored backup), the request checks the binding.
    Endpoint.objects.filter(pk=endpoint.pk).update(base_url=url)
    failure = connection.check_connection(Endpoint.objects.get(pk=endpoint.pk))
    assert failure.kind == "API key unavailable" and "is bound to" in failure.message
    assert authorizations == []


def test_an_admin_moving_a_key_variable_binds_it_to_the_new_server(fake_llm, listener):
    url, authorizations = listener
    endpoint = make_endpoint(fake_llm.url, api_key_env=VARIABLE)
    response = api_client("admin").patch(
        f"/api/endpoints/{endpoint.pk}/", {"base_url": url}, content_type="application/json"
    )
    assert response.status_code == 200, response.json()
    connection.check_connection(Endpoint.objects.get(pk=endpoint.pk))
    assert authorizations == [f"Bearer {OPERATOR_KEY}"]
