"""Model outputs are untrusted: markup in them is shown as text and never runs."""

import pytest
from playwright.sync_api import expect

from tests.browser.scenario import HOSTILE

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_sample_with_script_and_onerror_is_shown_as_text_and_sets_nothing(page, scenario):
    run = scenario.healthy_runs[-1]
    page.goto(run.get_absolute_url())
    page.get_by_text("Show me some HTML.").click()
    hostile = page.locator("pre.sample-text").filter(has_text="window.__pwned")
    expect(hostile.first).to_have_text(HOSTILE)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("main img").count() == 0

    a, b = scenario.healthy_runs[0], run
    page.goto(f"/compare/?by=run&a={a.pk}&b={b.pk}")
    page.get_by_text("Show me some HTML.").click()
    assert page.locator("pre.sample-text").filter(has_text="window.__pwned").count() >= 2
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("main img").count() == 0
