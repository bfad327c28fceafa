"""The endpoint page: a drawn chart per metric, the range picker, runs and their actions."""

import pytest
from playwright.sync_api import expect

from monitor.models import Endpoint, Run
from tests.browser.conftest import screenshot
from tests.browser.helpers import painted_pixels

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_metric_has_a_drawn_chart_and_the_range_picker_narrows_it(page, scenario):
    page.goto(scenario.collapsed.get_absolute_url())
    charts = page.locator("figure.chart")
    assert charts.count() >= 10
    distinct = charts.filter(has_text="Distinct-2 (equal length)")
    distinct.locator("canvas").wait_for()
    assert painted_pixels(distinct) > 500
    expect(distinct.locator("figcaption")).to_contain_text("baseline")
    assert page.locator("figure.chart[data-drawn=true]").count() == charts.count()
    screenshot(page, "endpoint")

    page.get_by_role("link", name="24h").click()
    page.wait_for_url("**?range=24h")
    assert page.get_by_role("link", name="24h").get_attribute("aria-current") == "page"
    assert painted_pixels(page.locator("figure.chart").first) > 0


def test_pinning_a_run_as_the_baseline_and_queueing_a_run(page, scenario):
    first = scenario.healthy_runs[0]
    page.goto(scenario.healthy.get_absolute_url())
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"#{first.pk}"))
    row.get_by_role("button", name="Pin as baseline").click()
    expect(page.get_by_text(f"Run {first.pk} is now the baseline")).to_be_visible()
    assert Endpoint.objects.get(pk=scenario.healthy.pk).baseline_run_id == first.pk
    expect(page.locator(".facts")).to_contain_text("pinned: run")

    page.get_by_role("button", name="Run now").click()
    queued = Run.objects.filter(endpoint=scenario.healthy).latest("pk")
    expect(page.get_by_text(f"Run {queued.pk} queued.")).to_be_visible()
    status = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"#{queued.pk}"))
    expect(status.locator(".progress-figure")).to_have_text(f"0/{queued.samples_expected}")
