"""The alert email explains itself: a chart even on an endpoint's first run, changes said in
words whose sign and meaning agree, and the answers' length when it differs from the
baseline's. Model outputs in it stay escaped."""

import io
import re

import pytest
from django.core import mail
from PIL import Image

from monitor.charts import BASELINE, LAST, comparison_png
from monitor.models import Alert, AlertRule, EventKind, MetricPoint, RuleKind, Sample
from monitor.notifications import delivery
from monitor.notifications.message import CHART_CID, build_message
from monitor.services import alerting
from tests.factories import make_scored_run

pytestmark = pytest.mark.django_db

METRIC = "distinct_2_matched"
# A "+" figure said together with "worse": the contradictory wording of old ("+12.2% worse").
PLUS_WITH_WORSE = re.compile(r"\+\s*\d[\d.]*%?[^\n.;]*worse")


def first_run_fires(versions, words: int = 40):
    """v1's healthy run, then v2's collapsed first run answering with ``words`` words; the
    event that fired and its message."""
    old, new = versions
    AlertRule.objects.exclude(kind=RuleKind.DROP, metric=METRIC).delete()
    baseline = make_scored_run(old, seed=1, vocabulary=3000)
    alerting.evaluate_run(baseline.pk)
    candidate = make_scored_run(new, seed=2, vocabulary=120, words=words)
    events = alerting.evaluate_run(candidate.pk)
    assert [(e.alert.rule.metric, e.kind) for e in events] == [(METRIC, EventKind.FIRED)]
    return baseline, candidate, events[0], build_message(events[0])


def test_a_first_run_email_charts_the_run_against_its_baseline_with_both_cis(versions):
    baseline, candidate, _, message = first_run_fires(versions)
    assert MetricPoint.objects.filter(endpoint=candidate.endpoint, metric=METRIC).count() == 1

    assert message.chart_png is not None
    image = Image.open(io.BytesIO(message.chart_png))
    assert image.format == "PNG" and image.size == (480, 160)
    assert f'src="cid:{CHART_CID}"' in message.html
    for run in (baseline, candidate):
        point = MetricPoint.objects.get(run=run, metric=METRIC)
        ci = f"95% CI {point.ci_low:.4g} – {point.ci_high:.4g}"
        assert ci in message.html  # in the chart's description, for clients that block images
        assert f"{point.ci_low:.4f} – {point.ci_high:.4f}" in message.html  # in the table
        assert f"{point.ci_low:.4f} – {point.ci_high:.4f}" in message.text
    assert f"against baseline run {baseline.pk}" in message.html

    deliver = delivery.send_notification
    for notification in Alert.objects.get().events.get(kind="fired").notifications.all():
        deliver(notification.pk)
    (sent,) = mail.outbox
    assert [part.get_content_type() for part in sent.attachments] == ["image/png"]


def test_the_comparison_chart_draws_each_ci_as_a_whisker_of_its_width():
    png = comparison_png([("Baseline", 0.5, 0.4, 0.6), ("This run", 0.3, 0.25, 0.35)])
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size

    def extent(colour, column):
        rows = [y for y in range(height) if image.getpixel((column, y)) == colour]
        return max(rows) - min(rows)

    step = (width - 2 * 12) / 2  # the chart's padding is 12 pixels
    baseline_span, run_span = (
        extent(BASELINE, int(12 + step / 2)),
        extent(LAST, int(12 + step * 1.5)),
    )
    assert run_span > 10 and baseline_span == pytest.approx(2 * run_span, abs=3)


def test_a_falling_sign_reads_down_and_the_worse_direction_without_a_plus(versions):
    _, _, event, message = first_run_fires(versions)
    assert event.alert.value < event.alert.baseline_value
    change = re.compile(r"down \d+\.\d%, the worse direction")
    for part in (message.text, message.html, event.alert.summary):
        assert change.search(part), part
        assert not PLUS_WITH_WORSE.search(part), part
    assert "Change from the baseline: down " in message.html
    assert change.search(message.payload["summary"])


def test_answers_of_another_length_are_said_in_the_email(versions):
    _, _, _, message = first_run_fires(versions, words=80)
    line = (
        "Answers 2.0× longer than the baseline (median 80 vs 40 tokens per output); "
        "the alert judges the length-matched signs."
    )
    assert line in message.text and line in message.html
    assert message.payload["length_context"] == line


def test_answers_of_the_same_length_say_nothing_about_length(versions):
    _, _, _, message = first_run_fires(versions, words=42)  # 5% longer: within 10%
    assert "tokens per output" not in message.text
    assert "tokens per output" not in message.html


def test_the_alerts_page_says_the_length_line_of_the_alert(user_client, versions):
    first_run_fires(versions, words=80)
    page = user_client.get("/alerts/").content.decode()
    assert "Answers 2.0× longer than the baseline (median 80 vs 40 tokens per output)" in page
    assert re.search(r"down \d+\.\d%, the worse direction", page)
    assert not PLUS_WITH_WORSE.search(page)


def test_model_outputs_in_the_email_stay_escaped(versions):
    _, candidate, event, _ = first_run_fires(versions)
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    Sample.objects.filter(run=candidate).update(text=hostile)
    message = build_message(event)
    assert hostile not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert hostile in message.text  # plain text is not HTML: shown as written
