"""Recovery of lost pipeline messages: a finished run whose scoring or alert evaluation never
happened is queued again by the dispatcher, and given up with a reason after a few tries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor import queue, tasks
from monitor.models import AlertRule, RuleKind, Run, RunStage
from monitor.services import recovery, scoring
from tests.factories import english_texts, make_endpoint, make_finished_run, make_prompt_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(settings):
    settings.TAILWATCH_EMBEDDINGS = False
    settings.TAILWATCH_STAGE_GRACE_SECONDS = 600
    return make_endpoint(
        "http://127.0.0.1:9/v1", prompt_set=make_prompt_set(open_prompts=6, probes=0)
    )


def finished_run(endpoint, minutes_ago: float) -> Run:
    run = make_finished_run(endpoint, english_texts(1, 2000, 6, 2))
    moment = timezone.now() - timedelta(minutes=minutes_ago)
    Run.objects.filter(pk=run.pk).update(finished_at=moment, stage_queued_at=moment)
    run.refresh_from_db()
    return run


def test_a_run_whose_scoring_message_was_lost_is_scored_after_the_grace_period(endpoint, enqueued):
    lost = finished_run(endpoint, minutes_ago=11)
    recent = finished_run(endpoint, minutes_ago=1)
    assert lost.stage == RunStage.SAMPLED

    assert recovery.requeue_stalled_runs() == [lost]
    assert enqueued == [(queue.SCORE_RUN, [lost.pk])]
    lost.refresh_from_db()
    assert lost.stage_requeues == 1
    # Just queued again: not again until another grace period has passed.
    assert recovery.requeue_stalled_runs() == []
    assert recent.stage == RunStage.SAMPLED


def test_a_scored_run_whose_evaluation_was_lost_is_evaluated_not_rescored(endpoint, enqueued):
    run = finished_run(endpoint, minutes_ago=30)
    scoring.score_run(run.pk)
    Run.objects.filter(pk=run.pk).update(stage_queued_at=timezone.now() - timedelta(minutes=30))

    assert recovery.requeue_stalled_runs() == [run]
    assert enqueued == [(queue.EVALUATE_ALERTS, [run.pk])]
    tasks.evaluate_alerts(run.pk)
    run.refresh_from_db()
    assert run.stage == RunStage.EVALUATED
    assert recovery.requeue_stalled_runs(timezone.now() + timedelta(hours=1)) == []


def test_a_run_that_keeps_dying_is_given_up_with_the_reason(endpoint, enqueued):
    run = finished_run(endpoint, minutes_ago=11)
    later = timezone.now()
    for _ in range(recovery.MAX_STAGE_REQUEUES):
        assert recovery.requeue_stalled_runs(later) == [run]
        later += timedelta(minutes=11)
    assert recovery.requeue_stalled_runs(later) == []
    run.refresh_from_db()
    assert run.stage == RunStage.STOPPED
    assert "gave up scoring after 4 tries" in run.stage_error
    assert len(enqueued) == recovery.MAX_STAGE_REQUEUES


def test_a_run_waiting_for_its_baseline_is_not_stuck(endpoint, enqueued):
    newer = make_endpoint(
        endpoint.base_url,
        name="model-a-v2",
        prompt_set=endpoint.prompt_set,
        baseline_endpoint=endpoint,
    )
    waiting = scoring.score_run(finished_run(newer, minutes_ago=30).pk)
    tasks.evaluate_alerts(waiting.pk)
    Run.objects.filter(pk=waiting.pk).update(stage_queued_at=timezone.now() - timedelta(hours=1))
    enqueued.clear()

    assert recovery.requeue_stalled_runs() == []
    assert enqueued == []

    # Its baseline arrived, but the message that should have said so was lost.
    baseline = scoring.score_run(finished_run(endpoint, minutes_ago=20).pk)
    tasks.evaluate_alerts(baseline.pk)
    assert recovery.requeue_stalled_runs(timezone.now() + timedelta(hours=1)) == [waiting]
    assert enqueued == [(queue.SCORE_RUN, [waiting.pk])]


def test_the_dispatcher_recovers_stalled_runs(endpoint, enqueued):
    lost = finished_run(endpoint, minutes_ago=11)
    assert tasks.dispatch_due_runs()["stalled_requeued"] == [lost.pk]


def test_a_repeated_scoring_message_does_not_score_again(endpoint):
    run = scoring.score_run(finished_run(endpoint, minutes_ago=1).pk)
    again = scoring.score_run(run.pk)
    assert again.scored_at == run.scored_at
    assert scoring.score_run(run.pk, again=True).scored_at > run.scored_at


def test_scoring_that_was_given_up_but_finishes_late_is_still_judged(endpoint, enqueued):
    run = finished_run(endpoint, minutes_ago=11)
    later = timezone.now()
    for _ in range(recovery.MAX_STAGE_REQUEUES + 1):
        recovery.requeue_stalled_runs(later)
        later += timedelta(minutes=11)
    run.refresh_from_db()
    assert run.stage == RunStage.STOPPED and "still completes" in run.stage_error

    # The scoring queue was only far behind: its messages arrive after all.
    for name, args in list(enqueued):
        if name == queue.SCORE_RUN:
            tasks.score_run(*args)
    for name, args in list(enqueued):
        if name == queue.EVALUATE_ALERTS:
            tasks.evaluate_alerts(*args)
    run.refresh_from_db()
    assert run.stage == RunStage.EVALUATED and not run.stage_error
    assert run.rule_evaluations.count() == len(AlertRule.for_endpoint(endpoint))


def test_a_scorer_that_cannot_work_says_why_and_the_down_rule_still_judges(
    endpoint, enqueued, settings, monkeypatch
):
    settings.TAILWATCH_EMBEDDINGS = True

    def model_will_not_load():
        raise OSError("no model at /models/minilm")

    monkeypatch.setattr(scoring, "encoder", model_will_not_load)
    run = finished_run(endpoint, minutes_ago=0)
    assert tasks.score_run(run.pk) == "not scored"
    run.refresh_from_db()
    assert run.score_error == "scoring failed: OSError('no model at /models/minilm')"
    assert enqueued[-1] == (queue.EVALUATE_ALERTS, [run.pk])
    tasks.evaluate_alerts(run.pk)
    run.refresh_from_db()
    assert run.stage == RunStage.EVALUATED
    assert run.rule_evaluations.get(rule__kind=RuleKind.DOWN).outcome == "clear"


def test_runs_left_unjudged_before_an_upgrade_do_not_raise_old_alarms(endpoint, enqueued):
    """Before verdicts were recorded, a run whose evaluation message was lost was simply never
    judged; after the upgrade, recovery finds it, but a later run was judged since."""
    AlertRule.objects.filter(endpoint=endpoint).delete()
    rule = AlertRule.objects.create(
        endpoint=endpoint, kind=RuleKind.THRESHOLD, metric="distinct_2", threshold=2.0
    )  # always breached
    old = scoring.score_run(finished_run(endpoint, minutes_ago=60 * 24 * 90).pk)
    newer = scoring.score_run(finished_run(endpoint, minutes_ago=60 * 24 * 89).pk)
    Run.objects.filter(pk=newer.pk).update(alerts_evaluated_at=timezone.now())

    assert recovery.requeue_stalled_runs() == [old]
    tasks.evaluate_alerts(old.pk)
    assert old.rule_evaluations.get(rule=rule).outcome == "superseded"
    assert not rule.alerts.exists()


def test_a_run_waiting_its_turn_behind_a_stuck_run_is_not_counted_as_stuck(endpoint, enqueued):
    stuck = finished_run(endpoint, minutes_ago=30)  # its scoring message was lost
    behind = scoring.score_run(finished_run(endpoint, minutes_ago=20).pk)
    tasks.evaluate_alerts(behind.pk)  # deferred: the earlier run is judged first
    Run.objects.filter(pk=behind.pk).update(stage_queued_at=timezone.now() - timedelta(hours=1))

    assert recovery.requeue_stalled_runs() == [stuck]
    behind.refresh_from_db()
    assert behind.stage == RunStage.SCORED and behind.stage_requeues == 0

    tasks.score_run(stuck.pk)
    tasks.evaluate_alerts(stuck.pk)
    assert enqueued[-1] == (queue.EVALUATE_ALERTS, [behind.pk])  # its turn has come
