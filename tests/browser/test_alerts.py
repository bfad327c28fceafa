"""The alerts page: filter, acknowledge, silence; the rule list and the rule editor."""

import pytest
from playwright.sync_api import expect

from monitor.models import Alert, AlertRule

pytestmark = pytest.mark.django_db(transaction=True)


def test_acknowledging_and_silencing_an_open_alert(page, scenario):
    page.goto("/alerts/")
    rows = page.locator("table.alerts tbody tr")
    assert rows.count() == Alert.objects.filter(state="firing").count() >= 2
    distinct = rows.filter(has_text="distinct_2_matched")
    distinct.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Acknowledged:")).to_be_visible()
    expect(rows.filter(has_text="distinct_2_matched")).to_contain_text("Acknowledged by ops")

    accuracy = page.locator("table.alerts tbody tr").filter(has_text="rare_entity_accuracy")
    accuracy.get_by_label("Silence for").select_option(label="1 day")
    accuracy.get_by_role("button", name="Silence").click()
    expect(page.get_by_text("Silenced until").first).to_be_visible()
    assert Alert.objects.get(rule__metric="rare_entity_accuracy").silenced_until is not None


def test_filtering_alerts_by_state_and_metric(page, scenario):
    page.goto("/alerts/")
    page.get_by_label("Metric").select_option("distinct_2_matched")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**metric=distinct_2_matched*")
    assert page.locator("table.alerts tbody tr").count() == 1
    page.get_by_label("State").select_option("resolved")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**state=resolved*")
    expect(page.locator(".empty")).to_contain_text("No alerts match")


def test_editing_a_rule_and_adding_one(page, scenario):
    page.goto("/alerts/")
    rule = AlertRule.objects.get(endpoint=scenario.healthy, metric="distinct_2_matched")
    page.get_by_role("row").filter(has_text="support-v1").get_by_role(
        "link", name=str(rule)
    ).click()
    page.get_by_label("Change percent").fill("25")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved rule")).to_be_visible()
    rule.refresh_from_db()
    assert rule.change_percent == 25

    page.get_by_role("link", name="Add rule").click()
    page.get_by_label("Model family").fill("support-bot")
    page.get_by_label("Kind").select_option("threshold")
    page.get_by_label("Metric").select_option("rep_4")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".errorlist")).to_contain_text("needs a threshold")
    page.get_by_label("Threshold").fill("0.2")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="rep_4 > 0.2")).to_be_visible()
