"""Endpoints: API keys encrypted at rest or read from the environment, and form validation."""

import importlib
import json

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
    endpoint = make_endpoint("http://x/v1", api_key_env="TAILWATCH_KEY_BOT")
    with pytest.raises(ApiKeyUnavailableError, match="TAILWATCH_KEY_BOT is not set"):
        endpoint.get_api_key()
    monkeypatch.setenv("TAILWATCH_KEY_BOT", "sk-env")
    assert endpoint.get_api_key() == "sk-env"


def test_a_stored_key_is_never_sent_to_a_server_it_was_not_given_for():
    endpoint = EndpointForm(data=form_data(api_key="sk-secret-123")).save()

    def edit(**changes) -> EndpointForm:
        return EndpointForm(
            data=form_data(**changes), instance=Endpoint.objects.get(pk=endpoint.pk)
        )

    elsewhere = edit(base_url="http://listener.example:8000/v1")
    assert not elsewhere.is_valid() and "enter it again" in str(elsewhere.errors["api_key"])
    assert edit(base_url="http://vllm.internal:8000/v2").is_valid()  # same server, new path
    assert edit(base_url="http://listener.example/v1", api_key="sk-new").is_valid()
    assert edit(base_url="http://listener.example/v1", clear_api_key=True).is_valid()


def test_a_key_encrypted_under_another_secret_asks_to_be_entered_again(settings):
    endpoint = make_endpoint("http://x/v1")
    endpoint.set_api_key("sk-old")
    settings.TAILWATCH_ENCRYPTION_KEY = "a-new-key"
    with pytest.raises(ApiKeyUnavailableError, match="enter the key again"):
        endpoint.get_api_key()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"api_key": "sk", "api_key_env": "TAILWATCH_KEY_BOT"}, "api_key_env"),
        ({"extra_params": '{"model": "other"}'}, "extra_params"),
        ({"extra_params": "[1, 2]"}, "extra_params"),
        ({"extra_params": '{"n": 4}'}, "extra_params"),
        ({"extra_params": '{"stream": true}'}, "extra_params"),
        ({"base_url": "not a url"}, "base_url"),
        ({"base_url": "http://[::1/"}, "base_url"),
        ({"base_url": "https://user:hunter2@api.example/v1"}, "base_url"),
        ({"base_url": "http://vllm:8000/v1?"}, "base_url"),
        ({"base_url": "http://vllm:8000/v1#"}, "base_url"),
        ({"base_url": "http://169.254.169.254/latest"}, "base_url"),
        ({"base_url": "http://[fe80::1]/v1"}, "base_url"),
        ({"api_key_env": "EMAIL_URL"}, "api_key_env"),
        ({"api_key_env": "SECRET_KEY"}, "api_key_env"),
        ({"api_key_env": "TAILWATCH_KEY_"}, "api_key_env"),
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


def test_private_addresses_are_refused_unless_the_setting_allows_them(settings):
    settings.TAILWATCH_ALLOW_PRIVATE_ENDPOINTS = False
    for base_url in ("http://10.0.0.1/v1", "http://127.0.0.1:8000/lab/v1", "http://[::1]/v1"):
        form = EndpointForm(data=form_data(base_url=base_url))
        assert not form.is_valid() and "private" in str(form.errors["base_url"])
    settings.TAILWATCH_ALLOW_PRIVATE_ENDPOINTS = True
    assert EndpointForm(data=form_data(base_url="http://10.0.0.1/v1")).is_valid()


def test_the_key_variable_prefix_is_a_setting(settings):
    settings.TAILWATCH_KEY_ENV_PREFIX = "ACME_KEY_"
    assert EndpointForm(data=form_data(api_key_env="ACME_KEY_OPENAI")).is_valid()
    assert not EndpointForm(data=form_data(api_key_env="TAILWATCH_KEY_OPENAI")).is_valid()


def test_a_stored_endpoint_never_reads_a_variable_outside_the_allow_list(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp://user:mail-password@mail.example")
    endpoint = make_endpoint("http://x/v1", api_key_env="EMAIL_URL")
    with pytest.raises(ApiKeyUnavailableError, match="EMAIL_URL may not hold an API key") as exc:
        endpoint.get_api_key()
    assert "mail-password" not in str(exc.value)


def test_the_migration_removes_credentials_from_stored_base_urls():
    from django.apps import apps

    migration = importlib.import_module("monitor.migrations.0004_endpoint_egress")
    with_credentials = make_endpoint("https://ops:hunter2@api.example/v1", name="a")
    plain = make_endpoint("http://vllm:8000/v1?tenant=a@b", name="b")
    migration.remove_credentials_from_base_urls(apps, None)
    with_credentials.refresh_from_db()
    plain.refresh_from_db()
    assert with_credentials.base_url == "https://api.example/v1"
    assert plain.base_url == "http://vllm:8000/v1?tenant=a@b"


@pytest.mark.parametrize(
    "extra_params, error",
    [
        ('{"temperature_scale": NaN}', "finite numbers only"),
        ('{"logit_bias": {"50256": -Infinity}}', "finite numbers only"),
        ('{"stop": [1e999]}', "finite numbers only"),
        ('{"a": ' + "[" * 8 + "]" * 8 + "}", "at most 8 levels deep"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "Enter a valid JSON."),
        ('{"seed": ' + "9" * 5000 + "}", "Enter a valid JSON."),
        ('{"stop": ["\\ud800"]}', "lone surrogate"),
        ('{"\\udfff": 1}', "lone surrogate"),
        ('{"user": "a\\u0000b"}', "NUL"),
    ],
)
def test_extra_params_that_no_model_server_reads_are_a_form_error(extra_params, error):
    form = EndpointForm(data=form_data(extra_params=extra_params))
    assert not form.is_valid()
    assert error in " ".join(form.errors["extra_params"])
    assert "extra_params" in form.as_div()  # the form renders again with the input


def test_nested_extra_params_within_the_limit_are_kept():
    nested = {"response_format": {"type": "json_schema", "json_schema": {"schema": {"a": [1]}}}}
    form = EndpointForm(data=form_data(extra_params=json.dumps(nested)))
    assert form.is_valid(), form.errors
    assert form.save().extra_params == nested


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
