"""The alerts page: filter, acknowledge, silence; the rule list and the rule editor."""

import pytest

from monitor.models import Alert, AlertRule

pytestmark = pytest.mark.django_db(transaction=True)


def test_acknowledging_and_silencing_an_open_alert(page, scenario):
    page.goto("/alerts/")
    rows = page.locator("table.alerts tbody tr")
    assert rows.count() == Alert.objects.filter(state="firing").count() >= 2
    distinct = rows.filter(has_text="distinct_2")
    distinct.get_by_role("button", name="Acknowledge").click()
    assert page.get_by_text("Acknowledged:").is_visible()
    assert "Acknowledged by ops" in rows.filter(has_text="distinct_2").inner_text()

    accuracy = page.locator("table.alerts tbody tr").filter(has_text="rare_entity_accuracy")
    accuracy.get_by_label("Silence for").select_option(label="1 day")
    accuracy.get_by_role("button", name="Silence").click()
    assert page.get_by_text("Silenced until").first.is_visible()
    assert Alert.objects.get(rule__metric="rare_entity_accuracy").silenced_until is not None


def test_filtering_alerts_by_state_and_metric(page, scenario):
    page.goto("/alerts/")
    page.get_by_label("Metric").select_option("distinct_2")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**metric=distinct_2*")
    assert page.locator("table.alerts tbody tr").count() == 1
    page.get_by_label("State").select_option("resolved")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**state=resolved*")
    assert "No alerts match" in page.locator(".empty").inner_text()


def test_editing_a_rule_and_adding_one(page, scenario):
    page.goto("/alerts/")
    rule = AlertRule.objects.get(endpoint=scenario.healthy, metric="distinct_2")
    page.get_by_role("row").filter(has_text="support-v1").get_by_role(
        "link", name=str(rule)
    ).click()
    page.get_by_label("Change percent").fill("25")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_text("Saved rule").is_visible()
    rule.refresh_from_db()
    assert rule.change_percent == 25

    page.get_by_role("link", name="Add rule").click()
    page.get_by_label("Model family").fill("support-bot")
    page.get_by_label("Kind").select_option("threshold")
    page.get_by_label("Metric").select_option("rep_4")
    page.get_by_role("button", name="Save").click()
    assert "needs a threshold" in page.locator(".errorlist").inner_text()
    page.get_by_label("Threshold").fill("0.2")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("link", name="rep_4 > 0.2").is_visible()
