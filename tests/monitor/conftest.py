"""Fixtures of the page tests: an editor's client, a model family with runs and alerts, and
the lab's API switched on."""

import pytest

from tests.factories import make_user

LAB_TOKEN = "lab-test-token"


@pytest.fixture
def serve_the_small_lab(small_lab, monkeypatch, settings):
    """The lab on, with a known token, serving the small lab's generations, trained beforehand
    as the worker or ``manage.py lab`` trains them."""
    from lab import Arm
    from monitor.services import served_lab

    settings.TAILWATCH_LAB_ENABLED = True
    settings.TAILWATCH_LAB_TOKEN = LAB_TOKEN
    for arm in Arm:
        small_lab.model(arm, 2)
    monkeypatch.setattr(served_lab, "served_lab", lambda: small_lab)


@pytest.fixture
def user_client(client):
    """Logged in as an editor: the pages' tests use every button an editor has."""
    client.force_login(make_user("editor", "ops"))
    return client


@pytest.fixture
def family(settings):
    """Two versions of a family sampled from fake models; v2 collapsed in its second run."""
    from tests.browser import scenario

    settings.TAILWATCH_EMBEDDINGS = False
    with scenario.FakeModels() as models:
        yield scenario.build(models)


@pytest.fixture
def versions(settings):
    """Two versions of a family registered together, neither run yet: v2 is judged against
    v1 from its first run on. Runs come from ``tests.factories.make_scored_run``."""
    from monitor.models import Channel
    from tests.factories import make_endpoint, make_prompt_set

    settings.TAILWATCH_EMBEDDINGS = False
    Channel.objects.create(name="ops", kind="email", target="ops@example.org")
    prompt_set = make_prompt_set(open_prompts=30, probes=0)
    common = {"prompt_set": prompt_set, "samples_per_prompt": 3}
    old = make_endpoint("http://127.0.0.1:9/v1", name="v1", **common)
    new = make_endpoint("http://127.0.0.1:9/v1", name="v2", baseline_endpoint=old, **common)
    return old, new
