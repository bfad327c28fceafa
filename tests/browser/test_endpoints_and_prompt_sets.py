"""Endpoints and prompt sets: the form with its write-only key, test connection, uploads."""

import pytest
from playwright.sync_api import expect

from monitor.models import Endpoint
from tests.factories import make_prompt_set

pytestmark = pytest.mark.django_db(transaction=True)


def test_adding_an_endpoint_never_shows_its_key_again(page):
    make_prompt_set()
    page.goto("/endpoints/new/")
    page.locator("#id_name").fill("vllm-prod")
    page.locator("#id_model_family").fill("support")
    page.locator("#id_base_url").fill("http://vllm:8000/v1")
    page.locator("#id_model").fill("support-13b")
    page.locator("#id_api_key").fill("sk-never-shown")
    page.locator("#id_prompt_set").select_option(index=1)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved vllm-prod.")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("stored, encrypted")
    expect(page.locator(".empty")).to_contain_text("No runs yet")
    page.get_by_role("link", name="Edit").click()
    assert page.locator("#id_api_key").input_value() == ""
    assert "sk-never-shown" not in page.content()


def test_test_connection_shows_the_reply_or_the_error(page, scenario, unused_port):
    page.goto(scenario.healthy.get_absolute_url())
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_role("status")).to_contain_text("answered in")
    expect(page.locator("pre.connection-reply")).not_to_be_empty()

    Endpoint.objects.filter(pk=scenario.healthy.pk).update(
        base_url=f"http://127.0.0.1:{unused_port}/v1"
    )
    page.goto(scenario.healthy.get_absolute_url())
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_role("alert")).to_contain_text("No reply")
    expect(page.locator("pre.connection-error")).not_to_be_empty()


def test_uploading_a_prompt_set_reports_each_bad_row(page):
    page.goto("/prompt-sets/")
    page.get_by_label("Name").fill("mine")
    bad = b'{"id": "a", "text": ""}\n{"id": "b", "text": "<i>Q</i>", "kind": "probe"}\n'
    page.get_by_label("File").set_input_files(
        {"name": "p.jsonl", "mimeType": "application/octet-stream", "buffer": bad}
    )
    page.get_by_role("button", name="Upload").click()
    errors = page.locator(".error-list")
    expect(errors).to_contain_text("line 1: 'text' is missing or empty")
    expect(errors).to_contain_text("line 2: a probe needs at least one 'gold' answer")

    good = b'{"id": "a", "text": "Hello?"}\n{"id": "b", "text": "Capital?", "gold": ["X"]}\n'
    page.get_by_label("Name").fill("mine")
    page.get_by_label("File").set_input_files(
        {"name": "p.jsonl", "mimeType": "application/octet-stream", "buffer": good}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="mine")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("1 open, 1 probe")
