"""The compare page: a comparison rendered at once with its test computed by a worker, or why
not."""

import pytest
from django.test import Client
from django.urls import reverse

from monitor import queue, tasks
from monitor.models import Comparison
from monitor.services import comparison
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def compare_url(family) -> str:
    return f"{reverse('compare')}?by=endpoint&a={family.healthy.pk}&b={family.collapsed.pk}"


def test_a_comparison_renders_at_once_and_shows_the_test_a_worker_computed(
    user_client, family, enqueued, django_capture_on_commit_callbacks
):
    a, b = family.healthy_runs[-1], family.collapsed_runs[-1]
    with django_capture_on_commit_callbacks(execute=True):
        page = user_client.get(compare_url(family)).content.decode()
    assert f"run #{a.pk}" in page and f"run #{b.pk}" in page and "testing…" in page
    assert "In which country is the town of Tromso?" in page  # tail loss
    assert "data-request-test" in page
    # Opening the page asks for nothing: its script asks for the test with a POST.
    assert not Comparison.objects.exists() and enqueued == []
    tests_url = reverse("compare-tests", args=[a.pk, b.pk])
    assert user_client.get(tests_url).json()["status"] == "not requested"
    with django_capture_on_commit_callbacks(execute=True):
        asked = user_client.post(tests_url).json()
    assert asked["progress"] == "Testing: waiting for a scoring worker."
    test = Comparison.objects.get(run_a=a, run_b=b)
    assert enqueued == [(queue.COMPARE_RUNS, [test.pk])]
    polled = user_client.get(tests_url).json()
    assert polled["status"] == "queued" and polled["metrics"] == {}
    assert "data-request-test" not in user_client.get(compare_url(family)).content.decode()

    tasks.compare_runs(test.pk)
    polled = user_client.get(reverse("compare-tests", args=[a.pk, b.pk])).json()
    assert polled["status"] == "succeeded"
    assert polled["metrics"]["distinct_2_matched"]["significant"]
    assert "distinct_2" not in polled["metrics"]  # the raw twin is shown, its matched one tested
    page = user_client.get(compare_url(family)).content.decode()
    assert "testing…" not in page and "★ p = " in page and "data-tests-url" not in page
    assert len(enqueued) == 1  # computed once, then read from the database


def test_the_page_tests_self_bleu_compression_and_the_blandness_index(family):
    a, b = family.healthy_runs[-1], family.collapsed_runs[-1]
    tests = comparison.significance(a, b)
    both = a.report["metrics"].keys() & b.report["metrics"].keys()
    for key in ("self_bleu_matched", "compression_ratio_matched", "blandness_index"):
        assert key in both and key in tests, key
        assert 0 < tests[key]["p_value"] <= 1


def test_a_failed_test_says_why_and_can_be_run_again(
    user_client, family, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    a, b = family.healthy_runs[-1], family.collapsed_runs[-1]

    def raises(*args):
        raise ValueError("no samples <kept>")

    monkeypatch.setattr(comparison, "significance", raises)
    user_client.post(reverse("compare-tests", args=[a.pk, b.pk]))
    tasks.compare_runs(Comparison.objects.get(run_a=a, run_b=b).pk)

    page = user_client.get(compare_url(family)).content.decode()
    assert "The significance test failed: ValueError: no samples &lt;kept&gt;" in page
    assert "Run the test again" in page and "testing…" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(reverse("compare-tests-retry", args=[a.pk, b.pk]))
    assert response.status_code == 302
    page = user_client.get(response["Location"]).content.decode()
    assert "testing…" in page and "Run the test again" not in page
    assert enqueued == [(queue.COMPARE_RUNS, [Comparison.objects.get(run_a=a, run_b=b).pk])]


def test_a_comparison_that_cannot_be_made_says_why(user_client, family):
    page = user_client.get(f"{reverse('compare')}?by=version&family=support-bot&a=v1&b=v9")
    assert "Version &#x27;v9&#x27; of &#x27;support-bot&#x27; has no scored run yet." in (
        page.content.decode()
    )
    page = user_client.get(f"{reverse('compare')}?by=run&a=x&b=1").content.decode()
    assert "Give a number (an id)." in page


@pytest.mark.parametrize("by", ["run", "endpoint"])
@pytest.mark.parametrize("a", ["²", "٣", "99999999999999999999", "0"])
def test_an_id_that_is_no_id_is_a_form_error(user_client, by, a):
    response = user_client.get(reverse("compare"), {"by": by, "a": a, "b": "1"})
    assert response.status_code == 200
    assert "Give a number (an id)." in response.content.decode()


def test_asking_for_a_test_needs_a_post_with_the_csrf_token(family):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("viewer"))
    a, b = family.healthy_runs[-1], family.collapsed_runs[-1]
    assert client.post(reverse("compare-tests", args=[a.pk, b.pk])).status_code == 403
    assert client.get(reverse("compare-tests", args=[a.pk, b.pk])).status_code == 200
    assert not Comparison.objects.exists()


def test_a_run_against_itself_is_refused_with_why(user_client, family):
    run = family.healthy_runs[-1]
    response = user_client.post(reverse("compare-tests", args=[run.pk, run.pk]))
    assert response.status_code == 400
    assert "cannot be tested against itself" in response.json()["error"]
    assert not Comparison.objects.exists()


def test_runs_with_no_tested_metric_in_common_are_refused_with_why(user_client, family):
    a, b = family.healthy_runs[-1], family.collapsed_runs[-1]
    b.report = {**b.report, "metrics": {}}
    b.save(update_fields=["report"])
    response = user_client.post(reverse("compare-tests", args=[a.pk, b.pk]))
    assert response.status_code == 400
    assert "no tested metric in common" in response.json()["error"]


def test_beyond_the_cap_a_new_test_waits_but_a_stored_one_is_answered(
    user_client, family, settings, enqueued
):
    settings.TAILWATCH_MAX_ACTIVE_COMPARISONS = 1
    first, second = family.healthy_runs[-1], family.collapsed_runs[-1]
    assert user_client.post(reverse("compare-tests", args=[first.pk, second.pk])).status_code == 200
    refused = user_client.post(reverse("compare-tests", args=[second.pk, first.pk]))
    assert refused.status_code == 429
    assert "the most allowed at once: try again" in refused.json()["error"]
    assert Comparison.objects.count() == 1
    again = user_client.post(reverse("compare-tests", args=[first.pk, second.pk]))
    assert again.status_code == 200 and again.json()["status"] == "queued"

    Comparison.objects.update(status="succeeded")  # done: it no longer holds a worker
    assert user_client.post(reverse("compare-tests", args=[second.pk, first.pk])).status_code == 200
    assert Comparison.objects.count() == 2
