"""The overview, the home page: login required, the empty install, endpoints and their signs."""

import pytest
from django.urls import reverse

from monitor.services import sampling
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


def test_pages_need_a_login(client):
    response = client.get(reverse("endpoint-list"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_empty_install_says_what_to_do_next(user_client):
    page = user_client.get(reverse("endpoint-list")).content.decode()
    assert "No endpoints yet" in page and reverse("endpoint-create") in page


def test_the_endpoint_list_shows_the_last_run(user_client, fake_llm):
    endpoint = make_endpoint(fake_llm.url)
    run = sampling.sample_run(sampling.start_run(endpoint).pk)
    page = user_client.get(reverse("endpoint-list")).content.decode()
    assert endpoint.name in page and run.get_absolute_url() in page and "Succeeded" in page


def test_the_overview_shows_latest_values_and_flags_the_firing_signs(user_client, family):
    page = user_client.get(reverse("endpoint-list")).content.decode()
    latest = family.collapsed_runs[-1].report["metrics"]["distinct_2_matched"]["value"]
    assert "Open alerts" in page and f">{latest:.3g}<" in page
    assert 'class="num cell state-firing" data-metric="distinct_2_matched"' in page
    assert page.count('<svg class="sparkline"') >= 8
