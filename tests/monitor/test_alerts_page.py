"""The alerts page: acknowledging and silencing, and actions that never redirect off site."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_acknowledging_and_silencing_from_the_alerts_page(user_client, family):
    from monitor.models import Alert, EventKind

    alert = Alert.objects.get(rule__metric="distinct_2_matched")
    page = user_client.get(reverse("alert-list")).content.decode()
    assert f'id="alert-{alert.pk}"' in page
    user_client.post(reverse("alert-acknowledge", args=[alert.pk]))
    user_client.post(reverse("alert-silence", args=[alert.pk]), {"hours": "4"})
    alert.refresh_from_db()
    assert alert.acknowledged_by.username == "ops" and alert.is_silenced()
    assert list(alert.events.values_list("kind", flat=True))[-2:] == [
        EventKind.ACKNOWLEDGED,
        EventKind.SILENCED,
    ]
    resolved = user_client.get(reverse("alert-list") + "?state=resolved").content.decode()
    assert f'id="alert-{alert.pk}"' not in resolved


def test_an_action_never_redirects_off_site(user_client, family):
    from monitor.models import Alert

    alert = Alert.objects.get(rule__metric="distinct_2_matched")
    response = user_client.post(
        reverse("alert-acknowledge", args=[alert.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == alert.get_absolute_url()
