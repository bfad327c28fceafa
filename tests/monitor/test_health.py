"""What answers without a login: the health check."""

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_database(client):
    assert client.get("/healthz").json()["ok"] is True
