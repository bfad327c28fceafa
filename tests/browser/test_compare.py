"""The compare page: two versions of a family, picked in the form, as a shareable URL."""

import re

import pytest
from playwright.sync_api import expect

from monitor import queue, tasks
from tests.browser.conftest import screenshot
from tests.browser.helpers import painted_pixels
from tests.browser.scenario import PROBES

pytestmark = pytest.mark.django_db(transaction=True)


def work_through_comparisons(enqueued: list) -> None:
    """Do what a scoring worker would: compute each significance test the pages queued."""
    for name, args in enqueued:
        if name == queue.COMPARE_RUNS:
            tasks.compare_runs(*args)


def test_comparing_two_versions_shows_deltas_significance_tail_loss_and_outputs(
    page, scenario, enqueued
):
    page.goto("/compare/")
    picker = page.locator("form.picker").filter(has_text="Two versions of a family")
    picker.get_by_label("Family").select_option("support-bot")
    picker.get_by_label("A (reference)").fill("v1")
    picker.get_by_label("B (candidate)").fill("v2")
    picker.get_by_role("button", name="Compare versions").click()
    page.wait_for_url("**/compare/?by=version*")
    shared_url = page.url

    run_a, run_b = scenario.healthy_runs[-1], scenario.collapsed_runs[-1]
    distinct = page.locator("table.compare-metrics tr[data-metric=distinct_2_matched]")
    delta = (
        run_b.report["metrics"]["distinct_2_matched"]["value"]
        - run_a.report["metrics"]["distinct_2_matched"]["value"]
    )
    sign_and_delta = re.escape(f"{delta:+.3g}".replace("-", "−"))
    expect(distinct.locator(".delta")).to_have_text(re.compile(f"^{sign_and_delta}"))
    assert "worse" in distinct.get_attribute("class")
    # The permutation test is computed by a worker while the page polls: then a star for a
    # significant change.
    expect(distinct.locator(".test")).to_have_text("testing…")
    expect(page.locator("#test-status")).to_contain_text("Testing")
    work_through_comparisons(enqueued)
    distinct.locator(".test .significant").wait_for()
    expect(page.locator("#test-status")).to_have_count(0)
    expect(distinct.locator(".test")).to_have_text(re.compile("^★ p = "))

    losses = page.locator("table.tail-loss tbody tr")
    assert losses.count() >= 3
    rarest_town = min(PROBES, key=lambda probe: probe[2])[0]
    expect(losses.first).to_contain_text(rarest_town)  # the rarest fact forgotten comes first
    expect(losses.first).to_contain_text("France")

    side_by_side = page.locator("details.prompt").first.locator(".side-by-side")
    assert side_by_side.locator("pre").count() >= 2
    chart = page.locator("figure.chart").first
    chart.locator("canvas").wait_for()
    assert painted_pixels(chart) > 500
    screenshot(page, "compare")

    # Shared: the same address shows the same comparison, its test now read from the database.
    page.goto(shared_url)
    expect(page.locator("tr[data-metric=distinct_2_matched] .test .significant")).to_be_visible()
    assert page.locator("table[data-tests-url]").count() == 0


def test_two_runs_compare_by_id_and_bad_choices_say_why(page, scenario, enqueued):
    a, b = scenario.collapsed_runs[0], scenario.collapsed_runs[-1]
    page.goto(f"/compare/?by=run&a={a.pk}&b={b.pk}")
    expect(page.locator("#compare-title")).to_contain_text(f"run #{a.pk}")
    expect(page.locator("#test-status")).to_contain_text("Testing")  # asked for by the page
    work_through_comparisons(enqueued)
    page.locator("tr[data-metric=distinct_2_matched] .test .significant").wait_for()

    page.goto("/compare/?by=run&a=999999&b=1")
    expect(page.get_by_role("alert")).to_have_text("No run #999999.")


@pytest.mark.console_allows("status of 429 (Too Many Requests)")
def test_a_test_refused_while_the_queue_is_full_says_why_and_can_be_asked_again(
    page, scenario, enqueued, settings
):
    settings.TAILWATCH_MAX_ACTIVE_COMPARISONS = 0
    a, b = scenario.healthy_runs[-1], scenario.collapsed_runs[-1]
    page.goto(f"/compare/?by=run&a={a.pk}&b={b.pk}")
    refused = page.locator("#test-refused")
    expect(refused).to_contain_text("the most allowed at once: try again in a few minutes.")
    expect(page.locator("tr[data-metric=distinct_2_matched] .test")).to_have_text("not tested")
    assert enqueued == []

    settings.TAILWATCH_MAX_ACTIVE_COMPARISONS = 4
    refused.get_by_role("button", name="Try again").click()
    expect(refused).to_be_hidden()
    expect(page.locator("#test-status")).to_contain_text("Testing")
    work_through_comparisons(enqueued)
    page.locator("tr[data-metric=distinct_2_matched] .test .significant").wait_for()
