"""The admin: every page opens, and a channel can be sent a test notification."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse

from monitor.models import Channel, Notification
from tests.factories import make_endpoint, make_finished_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "", "pw"))
    return client


def test_every_admin_list_and_change_page_opens(admin_client):
    endpoint = make_endpoint("http://127.0.0.1:9/v1")
    make_finished_run(endpoint, [["an output"]])
    for model in admin.site._registry:
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert admin_client.get(changelist).status_code == 200, changelist
        first = model.objects.first()
        if first is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
            assert admin_client.get(change).status_code == 200, change


def test_send_test_notification_action_queues_one_per_channel(admin_client):
    channel = Channel.objects.create(name="ops", kind="email", target="ops@example.org")
    response = admin_client.post(
        reverse("admin:monitor_channel_changelist"),
        {"action": "send_test_notification", "_selected_action": [channel.pk]},
        follow=True,
    )
    assert "Queued 1 test notification" in response.content.decode()
    assert Notification.objects.get().is_test


def test_the_endpoint_admin_pins_a_baseline(admin_client):
    endpoint = make_endpoint("http://127.0.0.1:9/v1")
    page = admin_client.get(reverse("admin:monitor_endpoint_change", args=[endpoint.pk]))
    html = page.content.decode()
    assert 'name="baseline_run"' in html and 'name="baseline_window"' in html
    assert 'name="api_key"' in html and "sk-" not in html


def test_the_endpoint_admin_refuses_a_variable_that_may_not_hold_a_key(admin_client):
    endpoint = make_endpoint("http://127.0.0.1:9/v1")
    change = reverse("admin:monitor_endpoint_change", args=[endpoint.pk])
    form = admin_client.get(change).context["adminform"].form
    data = {
        **{name: value for name, value in form.initial.items() if value is not None},
        "prompt_set": endpoint.prompt_set_id,
        "api_key_env": "SECRET_KEY",
    }
    page = admin_client.post(change, data)
    assert (
        page.status_code == 200 and "Only variables whose names start with" in page.content.decode()
    )
    assert admin_client.post(change, {**data, "api_key_env": "TAILWATCH_KEY_X"}).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.api_key_env == "TAILWATCH_KEY_X"
