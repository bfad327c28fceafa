"""The compare page's significance test on a real worker: the page asks for it, a scoring worker
computes it, and the page then shows the p-values."""

import pytest
from django.urls import reverse

from monitor.models import Comparison, JobStatus
from tests.browser import scenario
from tests.conftest import wait_for
from tests.factories import make_user
from tests.integration.conftest import FAST_WORKER

pytestmark = [pytest.mark.integration]


def test_a_worker_computes_the_compare_pages_test_and_the_page_shows_its_p_values(
    celery_processes, client, settings
):
    settings.TAILWATCH_EMBEDDINGS = False
    with scenario.FakeModels() as models:
        family = scenario.build(models)
    client.force_login(make_user("viewer"))
    url = f"{reverse('compare')}?by=endpoint&a={family.healthy.pk}&b={family.collapsed.pk}"
    assert "testing…" in client.get(url).content.decode()
    # What the page's script does once it opens: ask for the test.
    a, b = family.healthy_runs[-1], family.collapsed_runs[-1]
    assert client.post(reverse("compare-tests", args=[a.pk, b.pk])).json()["status"] == "queued"
    celery_processes.worker(**FAST_WORKER)

    def p_values_shown():
        """the compare page shows the worker's p-values"""
        page = client.get(url).content.decode()
        return "testing…" not in page and "★ p = " in page

    wait_for(p_values_shown, timeout=240, interval=1)
    test = Comparison.objects.get()
    assert test.status == JobStatus.SUCCEEDED and test.attempts == 1
    assert test.result["distinct_2_matched"]["significant"]
