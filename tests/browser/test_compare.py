"""The compare page: two versions of a family, picked in the form, as a shareable URL."""

import pytest

from tests.browser.conftest import screenshot
from tests.browser.helpers import painted_pixels
from tests.browser.scenario import PROBES

pytestmark = pytest.mark.django_db(transaction=True)


def test_comparing_two_versions_shows_deltas_significance_tail_loss_and_outputs(page, scenario):
    page.goto("/compare/")
    picker = page.locator("form.picker").filter(has_text="Two versions of a family")
    picker.get_by_label("Family").select_option("support-bot")
    picker.get_by_label("A (reference)").fill("v1")
    picker.get_by_label("B (candidate)").fill("v2")
    picker.get_by_role("button", name="Compare versions").click()
    page.wait_for_url("**/compare/?by=version*")
    shared_url = page.url

    run_a, run_b = scenario.healthy_runs[-1], scenario.collapsed_runs[-1]
    distinct = page.locator("table.compare-metrics tr[data-metric=distinct_2]")
    delta = (
        run_b.report["metrics"]["distinct_2"]["value"]
        - run_a.report["metrics"]["distinct_2"]["value"]
    )
    assert distinct.locator(".delta").inner_text().startswith(f"{delta:+.3g}".replace("-", "−"))
    assert "worse" in distinct.get_attribute("class")
    # The permutation test arrives after the page: a star for a significant change.
    distinct.locator(".test .significant").wait_for()
    assert distinct.locator(".test").inner_text().startswith("★ p = ")

    losses = page.locator("table.tail-loss tbody tr")
    assert losses.count() >= 3
    rarest_town = min(PROBES, key=lambda probe: probe[2])[0]
    assert rarest_town in losses.first.inner_text()  # the rarest fact forgotten comes first
    assert "France" in losses.first.inner_text()

    side_by_side = page.locator("details.prompt").first.locator(".side-by-side")
    assert side_by_side.locator("pre").count() >= 2
    chart = page.locator("figure.chart").first
    chart.locator("canvas").wait_for()
    assert painted_pixels(chart) > 500
    screenshot(page, "compare")

    # Shared: the same address shows the same comparison, its test now served from the cache.
    page.goto(shared_url)
    assert page.locator("tr[data-metric=distinct_2] .test .significant").is_visible()
    assert page.locator("table[data-tests-url]").count() == 0


def test_two_runs_compare_by_id_and_bad_choices_say_why(page, scenario):
    a, b = scenario.collapsed_runs[0], scenario.collapsed_runs[-1]
    page.goto(f"/compare/?by=run&a={a.pk}&b={b.pk}")
    assert f"run #{a.pk}" in page.locator("#compare-title").inner_text()
    page.locator("tr[data-metric=distinct_2] .test .significant").wait_for()

    page.goto("/compare/?by=run&a=999999&b=1")
    assert page.get_by_role("alert").inner_text() == "No run #999999."
