"""The run page: metrics with CIs, the per-prompt breakdown, wrong probes by popularity."""

import pytest
from playwright.sync_api import expect

from monitor.models import Endpoint
from tests.browser.conftest import screenshot
from tests.browser.scenario import sample_now

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_run_page_shows_metrics_breakdown_and_the_probes_it_got_wrong(page, scenario):
    run = scenario.collapsed_runs[-1]
    page.goto(run.get_absolute_url())
    accuracy = page.locator("table.metrics tr[data-metric=rare_entity_accuracy]")
    expected = f"{run.report['metrics']['rare_entity_accuracy']['value']:.4g}"
    expect(accuracy.locator(".value")).to_have_text(expected)
    expect(page.locator("[data-stage]")).to_contain_text("Evaluated against")
    breached = page.locator("table.rule-evaluations tr[data-outcome=breached]")
    expect(breached.filter(has_text="distinct_2")).to_be_visible()

    page.get_by_role("heading", name="Per prompt").click()
    expect(page.locator("table.breakdown").get_by_text("probe-tromso")).to_be_visible()

    wrong = page.locator("table.wrong-probes").first
    expect(wrong).to_contain_text("Tromso")
    expect(wrong).to_contain_text("France")
    expect(page.get_by_role("heading", name="Tail (rarest third)")).to_be_visible()
    # Arequipa (a million people) is still known: it is no wrong probe.
    assert "Arequipa" not in page.locator("table.wrong-probes").all_inner_texts()[0]
    screenshot(page, "run")


def test_a_failed_run_shows_its_errors(page, scenario, unused_port):

    Endpoint.objects.filter(pk=scenario.healthy.pk).update(
        base_url=f"http://127.0.0.1:{unused_port}/v1", timeout_seconds=1
    )
    scenario.healthy.refresh_from_db()
    run = sample_now(scenario.healthy)
    page.goto(run.get_absolute_url())
    expect(page.get_by_text("Failed", exact=True).first).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("endpoint unreachable")
    errors = page.locator("details.prompt .error-text")
    assert errors.count() == run.samples_failed
    assert "refused" in errors.first.text_content().lower()
    expect(page.locator(".empty").first).to_contain_text("the run failed")
