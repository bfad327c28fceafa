"""Endpoints: API keys encrypted at rest or read from the environment, and form validation."""

import pytest

from monitor.forms import EndpointForm
from monitor.models import ApiKeyUnavailableError, Endpoint
from tests.factories import make_endpoint, make_prompt_set

pytestmark = pytest.mark.django_db


def form_data(**overrides) -> dict:
    data = {
        "name": "prod-bot",
        "model_family": "bot",
        "version_label": "v2",
        "provider_kind": "chat",
        "base_url": "http://vllm.internal:8000/v1",
        "model": "bot-7b",
        "prompt_set": make_prompt_set().pk,
        "samples_per_prompt": 5,
        "interval_minutes": 60,
        "temperature": 1.0,
        "top_p": 1.0,
        "max_tokens": 128,
        "extra_params": "{}",
        "concurrency": 4,
        "timeout_seconds": 30,
        "enabled": True,
    }
    data.update(overrides)
    return data


def test_the_api_key_is_stored_encrypted_and_read_back():
    form = EndpointForm(data=form_data(api_key="sk-secret-123"))
    assert form.is_valid(), form.errors
    endpoint = form.save()
    stored = Endpoint.objects.values_list("api_key_encrypted", flat=True).get(pk=endpoint.pk)
    assert "sk-secret-123" not in stored and stored
    assert Endpoint.objects.get(pk=endpoint.pk).get_api_key() == "sk-secret-123"
    assert endpoint.api_key_source == "stored, encrypted"


def test_an_empty_key_on_edit_keeps_the_stored_one():
    endpoint = EndpointForm(data=form_data(api_key="sk-1")).save()
    form = EndpointForm(data=form_data(api_key="", temperature=0.5), instance=endpoint)
    assert form.is_valid(), form.errors
    assert form.save().get_api_key() == "sk-1"
    # and the form never renders the key back
    assert "sk-1" not in str(EndpointForm(instance=endpoint))


def test_the_key_can_come_from_an_environment_variable(monkeypatch):
    endpoint = make_endpoint("http://x/v1", api_key_env="BOT_KEY")
    with pytest.raises(ApiKeyUnavailableError, match="BOT_KEY is not set"):
        endpoint.get_api_key()
    monkeypatch.setenv("BOT_KEY", "sk-env")
    assert endpoint.get_api_key() == "sk-env"


def test_a_key_encrypted_under_another_secret_asks_to_be_entered_again(settings):
    endpoint = make_endpoint("http://x/v1")
    endpoint.set_api_key("sk-old")
    settings.TAILWATCH_ENCRYPTION_KEY = "a-new-key"
    with pytest.raises(ApiKeyUnavailableError, match="enter the key again"):
        endpoint.get_api_key()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"api_key": "sk", "api_key_env": "KEY"}, "api_key_env"),
        ({"extra_params": '{"model": "other"}'}, "extra_params"),
        ({"extra_params": "[1, 2]"}, "extra_params"),
        ({"base_url": "not a url"}, "base_url"),
        ({"temperature": 3}, "temperature"),
        ({"samples_per_prompt": 0}, "samples_per_prompt"),
    ],
)
def test_invalid_settings_are_refused(overrides, field):
    form = EndpointForm(data=form_data(**overrides))
    assert not form.is_valid()
    assert field in form.errors


def test_a_new_endpoint_starts_with_the_default_rules_and_an_edit_adds_none():
    from monitor.models import DEFAULT_RULES, AlertRule

    endpoint = EndpointForm(data=form_data()).save()
    rules = AlertRule.objects.filter(endpoint=endpoint)
    assert sorted(rules.values_list("kind", "metric")) == sorted(
        (rule["kind"], rule.get("metric", "")) for rule in DEFAULT_RULES
    )
    EndpointForm(data=form_data(temperature=0.5), instance=endpoint).save()
    assert rules.count() == len(DEFAULT_RULES)


def test_an_endpoint_cannot_be_its_own_baseline_endpoint():
    from django.core.exceptions import ValidationError

    endpoint = make_endpoint("http://127.0.0.1:9/v1")
    endpoint.baseline_endpoint = endpoint
    with pytest.raises(ValidationError, match="its own baseline endpoint"):
        endpoint.full_clean()


@pytest.mark.parametrize(
    "minutes, message",
    [(0, "At least 1 minute."), (6_000_000_000, "At most a year (525,600 minutes).")],
)
def test_an_interval_outside_a_minute_to_a_year_is_refused_with_the_limit(minutes, message):
    form = EndpointForm(data=form_data(interval_minutes=minutes))
    assert not form.is_valid()
    assert form.errors["interval_minutes"] == [message]


def test_an_interval_of_a_year_is_accepted():
    form = EndpointForm(data=form_data(interval_minutes=365 * 24 * 60))
    assert form.is_valid(), form.errors
