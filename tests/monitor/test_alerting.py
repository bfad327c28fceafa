"""Alert rules against scored runs: what fires, what stays quiet, and the alert lifecycle."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from monitor.models import (
    Alert,
    AlertEvent,
    AlertRule,
    AlertState,
    Channel,
    Notification,
    NotificationStatus,
    RuleKind,
    Run,
    RunStage,
    RunStatus,
)
from monitor.notifications import delivery
from monitor.services import alerting, scoring
from tests.factories import english_texts, make_endpoint, make_finished_run, make_prompt_set

pytestmark = pytest.mark.django_db

PROMPTS, SAMPLES = 30, 3


@pytest.fixture
def endpoint(settings):
    settings.TAILWATCH_EMBEDDINGS = False
    Channel.objects.create(name="ops", kind="email", target="ops@example.org")
    endpoint = make_endpoint(
        "http://127.0.0.1:9/v1",
        prompt_set=make_prompt_set(open_prompts=PROMPTS, probes=0),
        samples_per_prompt=SAMPLES,
    )
    # One drop rule keeps each alert's lifecycle readable; the policy's rules are tested in
    # test_alert_policy.py.
    AlertRule.objects.filter(endpoint=endpoint, kind=RuleKind.DROP).exclude(
        metric="distinct_2_matched"
    ).delete()
    return endpoint


def scored_run(endpoint, seed: int, vocabulary: int) -> Run:
    run = make_finished_run(endpoint, english_texts(seed, vocabulary, PROMPTS, SAMPLES))
    return scoring.score_run(run.pk)


def pin_baseline(endpoint) -> Run:
    """A healthy first run, judged and pinned as the baseline of the runs that follow."""
    endpoint.baseline_run = scored_run(endpoint, seed=1, vocabulary=3000)
    endpoint.save()
    alerting.evaluate_run(endpoint.baseline_run.pk)
    return endpoint.baseline_run


def evaluate(run: Run) -> list[str]:
    return [
        f"{event.alert.rule.metric or 'down'}:{event.kind}"
        for event in alerting.evaluate_run(run.pk)
    ]


def deliver_all() -> None:
    for notification in Notification.objects.filter(status=NotificationStatus.PENDING).order_by(
        "pk"
    ):
        delivery.send_notification(notification.pk)


def test_a_significant_drop_fires_one_alert_and_one_email(endpoint):
    evaluate(scored_run(endpoint, seed=1, vocabulary=3000))
    collapsed = scored_run(endpoint, seed=2, vocabulary=120)

    assert evaluate(collapsed) == ["distinct_2_matched:fired"]
    alert = Alert.objects.get()
    assert alert.state == AlertState.FIRING and alert.p_value < 0.05
    assert alert.value < alert.baseline_value
    deliver_all()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "distinct_2_matched" in message.subject and message.to == ["ops@example.org"]


def test_a_drop_within_noise_fires_nothing(endpoint):
    evaluate(scored_run(endpoint, seed=1, vocabulary=3000))
    assert evaluate(scored_run(endpoint, seed=2, vocabulary=3000)) == []
    assert not Alert.objects.exists() and not Notification.objects.exists()


def test_recovery_resolves_the_alert_and_says_so_once(endpoint):
    pin_baseline(endpoint)
    evaluate(scored_run(endpoint, seed=2, vocabulary=120))
    assert evaluate(scored_run(endpoint, seed=3, vocabulary=120)) == []  # still firing, no mail

    assert evaluate(scored_run(endpoint, seed=4, vocabulary=3000)) == [
        "distinct_2_matched:resolved"
    ]
    alert = Alert.objects.get()
    assert alert.state == AlertState.RESOLVED and alert.resolved_at
    assert alert.breaching_runs == 2
    deliver_all()
    assert [m.subject.rsplit(" ", 1)[-1] for m in mail.outbox] == ["firing", "resolved"]


def test_a_slow_decline_fires_blandness_creep_although_no_step_is_significant(endpoint):
    AlertRule.objects.filter(endpoint=endpoint).exclude(kind=RuleKind.CREEP).delete()
    # What moves here is word choice, common words crowding out rare ones:
    AlertRule.objects.create(endpoint=endpoint, kind=RuleKind.DROP, metric="tail_vocabulary")
    AlertRule.objects.create(endpoint=endpoint, kind=RuleKind.DROP, metric="mean_zipf")
    endpoint.baseline_window = 1  # each run against the one before: one small step
    endpoint.save()
    fired = []
    for step in range(10):
        vocabulary = round(3000 * 0.92**step)  # 8% fewer words each run
        fired += evaluate(scored_run(endpoint, seed=step, vocabulary=vocabulary))
    assert fired == ["blandness_index:fired"]
    alert = Alert.objects.get()
    assert alert.rule.kind == RuleKind.CREEP
    assert "Mann–Kendall" in alert.summary


def test_consecutive_breaches_make_a_pending_alert_fire(endpoint):
    AlertRule.objects.filter(endpoint=endpoint, kind=RuleKind.DROP).update(consecutive_runs=2)
    pin_baseline(endpoint)
    assert evaluate(scored_run(endpoint, seed=2, vocabulary=120)) == ["distinct_2_matched:pending"]
    assert evaluate(scored_run(endpoint, seed=3, vocabulary=120)) == ["distinct_2_matched:fired"]
    assert Notification.objects.count() == 1


def test_three_failed_runs_mean_the_endpoint_is_down(endpoint):
    events = []
    for _ in range(3):
        run = make_finished_run(endpoint, [])
        assert run.status == RunStatus.FAILED
        events += evaluate(run)
    assert events == ["down:fired"]
    assert "3 failed run(s) in a row" in Alert.objects.get().summary
    assert evaluate(scored_run(endpoint, seed=1, vocabulary=3000)) == ["down:resolved"]


def test_a_threshold_rule_fires_on_the_worse_side_only(endpoint):
    AlertRule.objects.filter(endpoint=endpoint).delete()
    AlertRule.objects.create(endpoint=endpoint, kind="threshold", metric="self_bleu", threshold=0.5)
    AlertRule.objects.create(
        endpoint=endpoint, kind="threshold", metric="distinct_1", threshold=0.9
    )
    # repetition-like metrics are worse when higher, diversity when lower
    assert evaluate(scored_run(endpoint, seed=1, vocabulary=3000)) == ["distinct_1:fired"]


def test_a_run_is_evaluated_once(endpoint):
    evaluate(scored_run(endpoint, seed=1, vocabulary=3000))
    collapsed = scored_run(endpoint, seed=2, vocabulary=120)
    assert evaluate(collapsed) == ["distinct_2_matched:fired"]
    assert evaluate(collapsed) == []
    assert AlertEvent.objects.count() == 1


def test_a_duplicated_notification_task_sends_once(endpoint):
    evaluate(scored_run(endpoint, seed=1, vocabulary=3000))
    evaluate(scored_run(endpoint, seed=2, vocabulary=120))
    notification = Notification.objects.get()
    assert delivery.send_notification(notification.pk).status == NotificationStatus.SENT
    assert delivery.send_notification(notification.pk) is None
    assert len(mail.outbox) == 1


def test_reminders_come_after_the_interval_unless_acknowledged(endpoint):
    pin_baseline(endpoint)
    evaluate(scored_run(endpoint, seed=2, vocabulary=120))
    alert = Alert.objects.get()
    Alert.objects.filter(pk=alert.pk).update(last_notified_at=timezone.now() - timedelta(days=2))
    assert evaluate(scored_run(endpoint, seed=3, vocabulary=120)) == ["distinct_2_matched:reminder"]

    Alert.objects.filter(pk=alert.pk).update(last_notified_at=timezone.now() - timedelta(days=2))
    alerting.acknowledge(Alert.objects.get(), user=None)
    assert evaluate(scored_run(endpoint, seed=4, vocabulary=120)) == []


def test_a_silenced_alert_changes_state_but_sends_nothing(endpoint):
    pin_baseline(endpoint)
    evaluate(scored_run(endpoint, seed=2, vocabulary=120))
    alerting.silence(Alert.objects.get(), timezone.now() + timedelta(hours=4))
    assert evaluate(scored_run(endpoint, seed=3, vocabulary=3000)) == [
        "distinct_2_matched:resolved"
    ]
    assert Notification.objects.count() == 1  # the firing one, from before the silence


def test_a_worker_that_dies_while_judging_leaves_nothing_half_written(endpoint, monkeypatch):
    evaluate(scored_run(endpoint, seed=1, vocabulary=3000))
    collapsed = scored_run(endpoint, seed=2, vocabulary=120)
    real_apply = alerting.apply

    def die_before_the_alert_is_written(rule, run, evaluation, *args):
        if evaluation.breached:
            raise SystemExit("worker killed")
        return real_apply(rule, run, evaluation, *args)

    monkeypatch.setattr(alerting, "apply", die_before_the_alert_is_written)
    with pytest.raises(SystemExit):
        evaluate(collapsed)
    collapsed.refresh_from_db()
    assert collapsed.alerts_evaluated_at is None
    assert not collapsed.rule_evaluations.filter(rule__metric="distinct_2_matched").exists()
    assert not Alert.objects.exists() and not Notification.objects.exists()

    monkeypatch.setattr(alerting, "apply", real_apply)
    assert evaluate(collapsed) == ["distinct_2_matched:fired"]  # the retry judges what was left
    assert evaluate(collapsed) == []
    assert AlertEvent.objects.count() == 1 and Notification.objects.count() == 1
    collapsed.refresh_from_db()
    assert collapsed.alerts_evaluated_at is not None
    assert collapsed.rule_evaluations.get(rule__metric="distinct_2_matched").outcome == "breached"


def test_an_older_run_judged_late_does_not_move_the_alert_back(endpoint):
    pin_baseline(endpoint)
    collapsed = scored_run(endpoint, seed=2, vocabulary=120)
    recovered = scored_run(endpoint, seed=3, vocabulary=3000)
    # The collapsed run's evaluation was given up; the next run is judged in its place...
    Run.objects.filter(pk=collapsed.pk).update(stage_error="gave up")
    assert evaluate(recovered) == []
    # ...and the original message, arriving late after all, must not fire an old alarm.
    assert evaluate(collapsed) == []
    assert not Alert.objects.exists()
    verdict = collapsed.rule_evaluations.get(rule__metric="distinct_2_matched")
    assert verdict.outcome == "superseded" and "later run" in verdict.summary
    collapsed.refresh_from_db()
    assert collapsed.stage == RunStage.EVALUATED and not collapsed.stage_error


def test_runs_are_judged_in_the_order_they_ran(endpoint):
    AlertRule.objects.filter(endpoint=endpoint, kind=RuleKind.DROP).update(consecutive_runs=2)
    pin_baseline(endpoint)
    breach = scored_run(endpoint, seed=2, vocabulary=120)
    clear = scored_run(endpoint, seed=3, vocabulary=3000)
    breach_again = scored_run(endpoint, seed=4, vocabulary=120)
    assert evaluate(breach) == ["distinct_2_matched:pending"]
    # The clear run's message is late: the next run waits for it instead of counting two
    # breaches in a row that were not in a row.
    assert evaluate(breach_again) == []
    assert alerting.next_to_judge(breach.pk) is None or alerting.next_to_judge(breach.pk) == clear
    assert evaluate(clear) == ["distinct_2_matched:cleared"]
    assert alerting.next_to_judge(clear.pk) == breach_again
    assert evaluate(breach_again) == ["distinct_2_matched:pending"]
    assert not Alert.objects.filter(state=AlertState.FIRING).exists()


def test_two_workers_opening_the_same_alert_at_once_both_keep_their_verdict(endpoint, monkeypatch):
    AlertRule.objects.filter(endpoint=endpoint, kind=RuleKind.DROP).update(consecutive_runs=2)
    pin_baseline(endpoint)
    evaluate(scored_run(endpoint, seed=2, vocabulary=120))
    second = scored_run(endpoint, seed=3, vocabulary=120)
    # As on PostgreSQL when the other worker's alert was not yet committed: the first look
    # finds no open alert, the insert then meets the one-open-alert constraint.
    real = Alert.objects.select_for_update
    looks = []

    def first_look_misses_the_alert(*args, **kwargs):
        looks.append(1)
        return Alert.objects.none() if len(looks) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(Alert.objects, "select_for_update", first_look_misses_the_alert)
    assert evaluate(second) == ["distinct_2_matched:fired"]
    assert second.rule_evaluations.get(rule__metric="distinct_2_matched").outcome == "breached"


def test_a_change_is_said_with_its_direction_and_its_meaning_never_at_odds():
    # Distinct-2 falling is worse; a blandness index rising from 0 is worse.
    assert alerting.change_in_words(0.4, 0.5, "distinct_2") == "down 20.0%, the worse direction"
    assert alerting.change_in_words(0.52, 0.5, "distinct_2") == "up 4.0%, the better direction"
    assert alerting.change_in_words(7.5, 0.0, "blandness_index") == (
        "up 7.5 from 0, the worse direction"
    )
    assert alerting.change_in_words(0.5, 0.5, "distinct_2") == "unchanged"
