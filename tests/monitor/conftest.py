"""Fixtures of the page tests: a logged-in client, and a model family with runs and alerts."""

import pytest
from django.contrib.auth.models import User


@pytest.fixture
def user_client(client):
    client.force_login(User.objects.create_user("ops", password="pw-long-enough"))
    return client


@pytest.fixture
def family(settings):
    """Two versions of a family sampled from fake models; v2 collapsed in its second run."""
    from tests.browser import scenario

    settings.TAILWATCH_EMBEDDINGS = False
    with scenario.FakeModels() as models:
        yield scenario.build(models)
