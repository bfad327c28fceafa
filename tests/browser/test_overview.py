"""The overview in a real browser: logging in, the empty state, and a family at a glance."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_logging_in_through_the_form_opens_an_empty_overview_that_says_what_to_do(open_tab, user):
    tab = open_tab(logged_in=False)
    tab.goto("/")
    assert "/login/" in tab.url
    tab.get_by_label("Username").fill("ops")
    tab.get_by_label("Password").fill("a-long-test-password")
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url("**/")
    expect(tab.get_by_role("heading", name="Overview")).to_be_visible()
    expect(tab.locator(".empty")).to_contain_text("No endpoints yet")
    expect(tab.get_by_role("link", name="Add an endpoint")).to_be_visible()


def test_the_overview_shows_each_endpoints_warning_signs_with_open_alerts_on_top(page, scenario):
    page.goto("/")
    alerts = page.locator(".open-alerts")
    expect(alerts).to_contain_text("support-v2")
    expect(alerts).to_contain_text("distinct_2_matched")
    assert alerts.bounding_box()["y"] < page.locator("table.overview").bounding_box()["y"]

    healthy = page.get_by_role("row").filter(has_text="support-v1")
    collapsed = page.get_by_role("row").filter(has_text="support-v2")
    latest = scenario.collapsed_runs[-1].report["metrics"]["distinct_2_matched"]["value"]
    cell = collapsed.locator("td[data-metric=distinct_2_matched]")
    expect(cell.locator(".value")).to_have_text(f"{latest:.3g}")
    assert "state-firing" in cell.get_attribute("class")
    expect(cell.locator(".trend.worse")).to_have_text(re.compile("^↓"))
    assert cell.locator("svg.sparkline polyline").count() == 1
    assert "state-firing" not in healthy.locator(
        "td[data-metric=distinct_2_matched]"
    ).get_attribute("class")
    expect(healthy.get_by_text("Succeeded")).to_be_visible()
    screenshot(page, "overview")


def test_every_page_fits_a_phone(open_tab, scenario):
    tab = open_tab(viewport=PHONE)
    run_a, run_b = scenario.healthy_runs[-1], scenario.collapsed_runs[-1]
    pages = {
        "overview": "/",
        "endpoint": scenario.collapsed.get_absolute_url(),
        "run": run_b.get_absolute_url(),
        "compare": f"/compare/?by=run&a={run_a.pk}&b={run_b.pk}",
        "alerts": "/alerts/",
    }
    for name, url in pages.items():
        tab.goto(url)
        # Wide tables scroll inside their box; the page itself never scrolls sideways.
        assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
    tab.goto("/")
    expect(tab.get_by_role("heading", name="support-bot")).to_be_visible()
    screenshot(tab, "overview-phone")
