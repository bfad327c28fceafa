"""The compare page: a comparison rendered at once with its test served later, or why not."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_comparison_renders_at_once_and_its_test_is_served_then_cached(user_client, family):
    a, b = family.healthy_runs[-1], family.collapsed_runs[-1]
    url = f"{reverse('compare')}?by=endpoint&a={family.healthy.pk}&b={family.collapsed.pk}"
    page = user_client.get(url).content.decode()
    assert f"run #{a.pk}" in page and f"run #{b.pk}" in page and "testing…" in page
    assert "In which country is the town of Tromso?" in page  # tail loss

    tests = user_client.get(reverse("compare-tests", args=[a.pk, b.pk])).json()["metrics"]
    assert tests["distinct_2_matched"]["significant"]
    assert "distinct_2" not in tests  # the raw twin is shown, its length-matched one tested
    page = user_client.get(url).content.decode()
    assert "testing…" not in page and "★ p = " in page


def test_the_page_tests_self_bleu_compression_and_the_blandness_index(user_client, family):
    a, b = family.healthy_runs[-1], family.collapsed_runs[-1]
    tests = user_client.get(reverse("compare-tests", args=[a.pk, b.pk])).json()["metrics"]
    both = a.report["metrics"].keys() & b.report["metrics"].keys()
    for key in ("self_bleu_matched", "compression_ratio_matched", "blandness_index"):
        assert key in both and key in tests, key
        assert 0 < tests[key]["p_value"] <= 1


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
