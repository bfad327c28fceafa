"""Baselines: a version registered with a baseline endpoint that has no scored run yet waits
for it, and is then rescored and judged against it; a run is never its own baseline."""

import pytest

from monitor import queue
from monitor.models import Alert, AlertRule, MetricPoint, RuleKind, RunStage
from monitor.services import alerting, baselines, scoring
from tests.factories import (
    blandness_against,
    english_texts,
    make_endpoint,
    make_finished_run,
    make_prompt_set,
)

pytestmark = pytest.mark.django_db

PROMPTS, SAMPLES = 30, 3


@pytest.fixture
def family(settings):
    """Two versions registered together: v2's baseline endpoint is v1, and neither has run."""
    settings.TAILWATCH_EMBEDDINGS = False
    prompt_set = make_prompt_set(open_prompts=PROMPTS, probes=0)
    common = {"prompt_set": prompt_set, "samples_per_prompt": SAMPLES}
    old = make_endpoint("http://127.0.0.1:9/v1", name="v1", **common)
    new = make_endpoint("http://127.0.0.1:9/v1", name="v2", baseline_endpoint=old, **common)
    return old, new


def finished(endpoint, seed: int, vocabulary: int):
    return make_finished_run(endpoint, english_texts(seed, vocabulary, PROMPTS, SAMPLES))


def test_a_version_scored_before_its_baseline_waits_without_baseline_relative_figures(family):
    _, new = family
    candidate = scoring.score_run(finished(new, seed=2, vocabulary=120).pk)

    assert candidate.awaits_baseline and candidate.stage == RunStage.WAITING_FOR_BASELINE
    stored = set(MetricPoint.objects.filter(run=candidate).values_list("metric", flat=True))
    assert "distinct_2" in stored and "blandness_index" not in stored
    assert baselines.baseline_for(candidate) is None

    # Rules that need no baseline judge it now; the drop and blandness rules wait.
    assert alerting.evaluate_run(candidate.pk) == []
    candidate.refresh_from_db()
    judged = set(candidate.rule_evaluations.values_list("rule__kind", flat=True))
    assert judged == {RuleKind.DOWN}
    assert candidate.alerts_evaluated_at is None
    assert candidate.stage == RunStage.WAITING_FOR_BASELINE


def test_once_the_baseline_is_scored_the_waiting_version_is_rescored_and_fires(family, enqueued):
    old, new = family
    candidate = scoring.score_run(finished(new, seed=2, vocabulary=120).pk)
    alerting.evaluate_run(candidate.pk)

    baseline = scoring.score_run(finished(old, seed=1, vocabulary=3000).pk)
    assert baselines.runs_awaiting(baseline) == [candidate]

    candidate = scoring.score_run(candidate.pk)
    assert not candidate.awaits_baseline
    assert baselines.baseline_for(candidate) == baseline
    stored = MetricPoint.objects.get(run=candidate, metric="blandness_index")
    assert stored.value > 0 and stored.value == pytest.approx(
        blandness_against(candidate, baseline)
    )

    events = alerting.evaluate_run(candidate.pk)
    assert [(e.alert.rule.metric, e.kind) for e in events] == [
        ("blandness_index", "fired"),
        ("distinct_2_matched", "fired"),
    ]
    candidate.refresh_from_db()
    assert candidate.stage == RunStage.EVALUATED
    assert candidate.rule_evaluations.count() == AlertRule.for_endpoint(new).__len__()
    assert not Alert.objects.filter(endpoint=old).exists()


def test_a_baseline_scored_while_the_version_was_being_scored_is_not_missed(family, monkeypatch):
    old, new = family
    baseline_run = finished(old, seed=1, vocabulary=3000)
    candidate = finished(new, seed=2, vocabulary=120)
    real = baselines.awaits_baseline
    calls = []

    def baseline_scored_meanwhile(run):
        calls.append(run.pk)
        if len(calls) == 1:  # the candidate sees no baseline, which is scored just after
            answer = real(run)
            scoring.score_run(baseline_run.pk)
            return answer
        return real(run)

    monkeypatch.setattr(baselines, "awaits_baseline", baseline_scored_meanwhile)
    candidate = scoring.score_run(candidate.pk)
    assert not candidate.awaits_baseline
    assert MetricPoint.objects.filter(run=candidate, metric="blandness_index").exists()


def test_a_pinned_run_is_never_its_own_baseline(family):
    old, _ = family
    first = scoring.score_run(finished(old, seed=1, vocabulary=3000).pk)
    old.baseline_run = first
    old.save()
    assert baselines.baseline_for(first) is None
    second = scoring.score_run(finished(old, seed=2, vocabulary=3000).pk)
    assert baselines.baseline_for(second) == first


def test_an_endpoint_that_is_its_own_baseline_endpoint_never_compares_a_run_with_itself(family):
    old, _ = family
    old.baseline_endpoint = old
    old.save()
    run = scoring.score_run(finished(old, seed=1, vocabulary=3000).pk)
    assert baselines.baseline_for(run) is None


def test_scoring_a_baseline_queues_the_runs_that_waited_for_it(family, enqueued):
    from monitor import tasks

    old, new = family
    candidate = scoring.score_run(finished(new, seed=2, vocabulary=120).pk)
    baseline = finished(old, seed=1, vocabulary=3000)
    enqueued.clear()
    tasks.score_run(baseline.pk)
    assert (queue.SCORE_RUN, [candidate.pk]) in enqueued
    assert (queue.EVALUATE_ALERTS, [baseline.pk]) in enqueued


def test_a_baseline_endpoint_whose_runs_lost_a_few_samples_still_ends_the_wait(family):
    from monitor.models import Run, RunStatus

    old, new = family
    candidate = scoring.score_run(finished(new, seed=2, vocabulary=120).pk)
    partial = finished(old, seed=1, vocabulary=3000)
    Run.objects.filter(pk=partial.pk).update(status=RunStatus.PARTIAL)
    partial = scoring.score_run(partial.pk)
    assert baselines.runs_awaiting(partial) == [candidate]
    candidate = scoring.score_run(candidate.pk)
    assert not candidate.awaits_baseline and baselines.baseline_for(candidate) == partial
