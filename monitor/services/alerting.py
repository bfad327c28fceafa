"""Alert: check a finished run against the endpoint's rules and move each alert's state.

Each rule kind gives an ``Evaluation`` (breached, clear, or cannot tell yet); ``apply``
moves the one open alert of (rule, endpoint) through pending → firing → resolved, records an
``AlertEvent`` for every change, and writes a ``Notification`` per channel for the events
people hear about. Drop-from-baseline rules share one permutation test per run, Holm-adjusted
across their metrics, so more rules do not mean more false alarms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

import evaluators
from evaluators import METRICS, policy
from evaluators.policy import change_in_words
from evaluators.trend import mann_kendall
from monitor.models import (
    NOTIFYING_EVENTS,
    OPEN_ALERT_STATES,
    Alert,
    AlertEvent,
    AlertRule,
    AlertState,
    EventKind,
    MetricPoint,
    Outcome,
    RuleEvaluation,
    RuleKind,
    Run,
    RunStatus,
)
from monitor.notifications import delivery
from monitor.services import baselines, scoring
from monitor.services.comparison import compare_runs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    """A rule against one run: ``breached`` is None when there is not enough data to tell."""

    breached: bool | None
    summary: str
    value: float | None = None
    baseline_value: float | None = None
    p_value: float | None = None


class RunContext:
    """What the rules of one run need, each piece computed once and only if asked for."""

    def __init__(self, run: Run, rules: list[AlertRule]) -> None:
        self.run = run
        self.rules = rules

    @cached_property
    def values(self) -> dict[str, float]:
        return dict(self.run.points.values_list("metric", "value"))

    @cached_property
    def baseline(self) -> Run | None:
        return baselines.baseline_for(self.run)

    @cached_property
    def comparison(self) -> dict[str, evaluators.MetricComparison]:
        """One permutation test of this run against its baseline, over every metric a drop
        rule watches, with p-values Holm-adjusted across them."""
        baseline_metrics = (self.baseline.report or {}).get("metrics", {})
        metrics = sorted(
            {rule.metric for rule in self.rules if rule.kind == RuleKind.DROP}
            & self.values.keys()
            & baseline_metrics.keys()
        )
        if not metrics:
            return {}
        return compare_runs(
            self.baseline,
            self.run,
            metrics,
            n_permutations=policy.DEFAULT_POLICY.n_permutations,
            seed=self.run.pk,
            reference=baselines.blandness_reference(self.run),
        )

    def recent_values(self, metric: str, count: int) -> list[float]:
        """The metric over the endpoint's last ``count`` scored runs up to this one, oldest
        first."""
        points = MetricPoint.objects.filter(
            endpoint=self.run.endpoint_id, metric=metric, time__lte=self.run_time
        ).order_by("-time", "-run_id")[:count]
        return [point.value for point in reversed(points)]

    @cached_property
    def run_time(self) -> datetime:
        return self.run.finished_at or self.run.created_at


def evaluate_threshold(rule: AlertRule, context: RunContext) -> Evaluation:
    value = context.values.get(rule.metric)
    if value is None:
        return Evaluation(None, f"{rule.metric} was not measured on this run")
    higher_is_worse = METRICS[rule.metric].higher_is_worse
    breached = value > rule.threshold if higher_is_worse else value < rule.threshold
    side = "above" if higher_is_worse else "below"
    return Evaluation(
        breached,
        f"{rule.metric} = {value:.4g}, {'' if breached else 'not '}{side} {rule.threshold:g}",
        value=value,
    )


def evaluate_drop(rule: AlertRule, context: RunContext) -> Evaluation:
    value = context.values.get(rule.metric)
    if value is None:
        return Evaluation(None, f"{rule.metric} was not measured on this run")
    if context.baseline is None:
        return Evaluation(None, "no baseline run yet")
    result = context.comparison.get(rule.metric)
    if result is None:
        return Evaluation(None, f"{rule.metric} cannot be compared with the baseline run")
    breached = policy.is_regression(
        rule.metric, result, rule.p_value, rule.noise_floor, rule.change_percent
    )
    return Evaluation(
        breached,
        f"{rule.metric} = {result.candidate:.4g} vs baseline {result.baseline:.4g} "
        f"(run {context.baseline.pk}): "
        f"{change_in_words(result.candidate, result.baseline, rule.metric)}, "
        f"p = {result.p_value:.3g}",
        value=result.candidate,
        baseline_value=result.baseline,
        p_value=result.p_value,
    )


def evaluate_creep(rule: AlertRule, context: RunContext) -> Evaluation:
    values = context.recent_values(rule.metric, rule.window_runs)
    if rule.metric not in context.values or len(values) < rule.window_runs:
        return Evaluation(None, f"fewer than {rule.window_runs} scored runs of {rule.metric}")
    trend = mann_kendall(values)
    higher_is_worse = METRICS[rule.metric].higher_is_worse
    p_value = trend.p_increasing if higher_is_worse else trend.p_decreasing
    drift = trend.slope * (len(values) - 1)
    scale = sum(abs(value) for value in values) / len(values)
    drift_worse = drift if higher_is_worse else -drift
    relative = drift_worse / scale if scale else drift_worse
    breached = p_value < rule.p_value and relative * 100 > rule.change_percent
    return Evaluation(
        breached,
        f"{rule.metric} over the last {len(values)} runs: {values[0]:.4g} → {values[-1]:.4g}, "
        f"Sen slope {'up' if trend.slope > 0 else 'down'} {abs(trend.slope):.3g} a run "
        f"({'the worse' if relative > 0 else 'the better'} direction, "
        f"{abs(relative) * 100:.1f}% of its mean over the window), "
        f"Mann–Kendall p = {p_value:.3g}",
        value=values[-1],
        baseline_value=values[0],
        p_value=p_value,
    )


def evaluate_down(rule: AlertRule, context: RunContext) -> Evaluation:
    recent = list(
        context.run.endpoint.runs.finished()
        .filter(created_at__lte=context.run.created_at)
        .order_by("-created_at")
        .values_list("status", "error_summary")[: rule.window_runs]
    )
    failed = 0
    for status, _ in recent:
        if status != RunStatus.FAILED:
            break
        failed += 1
    if failed < rule.window_runs and context.run.status == RunStatus.FAILED:
        return Evaluation(None, f"{failed} failed run(s) in a row")
    reason = recent[0][1] if recent else ""
    return Evaluation(
        failed >= rule.window_runs,
        f"{failed} failed run(s) in a row" + (f"; last: {reason}" if failed else ""),
    )


EVALUATORS = {
    RuleKind.THRESHOLD: evaluate_threshold,
    RuleKind.DROP: evaluate_drop,
    RuleKind.CREEP: evaluate_creep,
    RuleKind.DOWN: evaluate_down,
}


def evaluate_run(run_id: int) -> list[AlertEvent]:
    """Check each rule of the run's endpoint against the run, exactly once per (run, rule).

    Each rule's verdict (a ``RuleEvaluation``) commits in one transaction with the alert changes
    it causes, so a worker that dies halfway leaves every rule either fully judged or not judged
    at all, and a retry judges only the rest. An endpoint's runs are judged in the order they
    ran: a run waits while an earlier one is still to be judged (``next_to_judge`` names it when
    its turn comes). Rules that compare with the baseline wait while the run awaits its
    baseline. ``Run.alerts_evaluated_at`` is set once every rule is judged.
    """
    run = Run.objects.select_related("endpoint").get(pk=run_id)
    if not run.is_ready_for_rules or earlier_runs_to_judge(run).exists():
        return []  # sampling or scoring comes first, its turn has not come, or it was judged
    rules = AlertRule.for_endpoint(run.endpoint)
    judged = set(run.rule_evaluations.values_list("rule_id", flat=True))
    context = RunContext(run, rules)
    events: list[AlertEvent] = []
    waiting = False
    for rule in rules:
        if rule.pk in judged:
            continue
        if run.awaits_baseline and baselines.depends_on_baseline(rule):
            waiting = True
            continue
        events += judge(rule, run, context)
    if not waiting:
        Run.objects.filter(pk=run.pk, alerts_evaluated_at__isnull=True).update(
            alerts_evaluated_at=timezone.now(), stage_error=""
        )
    return events


def earlier_runs_to_judge(run: Run) -> QuerySet[Run]:
    """Finished runs of the same endpoint, older than ``run``, that the rules have yet to
    judge. A run waiting for its baseline or given up holds nobody back."""
    return Run.objects.finished().filter(
        endpoint_id=run.endpoint_id,
        created_at__lt=run.created_at,
        alerts_evaluated_at__isnull=True,
        awaits_baseline=False,
        stage_error="",
    )


def next_to_judge(run_id: int) -> Run | None:
    """The endpoint's next run to judge after ``run_id``, if it is ready and waits its turn."""
    run = Run.objects.get(pk=run_id)
    later = (
        Run.objects.finished()
        .filter(
            endpoint_id=run.endpoint_id,
            created_at__gt=run.created_at,
            alerts_evaluated_at__isnull=True,
        )
        .order_by("created_at")
        .first()
    )
    if later is None or not later.is_ready_for_rules or earlier_runs_to_judge(later).exists():
        return None
    return later


def evaluate(rule: AlertRule, context: RunContext) -> Evaluation:
    if rule.kind != RuleKind.DOWN and rule.metric not in METRICS:
        return Evaluation(None, f"{rule.metric!r} is not a metric Tailwatch measures")
    if rule.kind != RuleKind.DOWN and context.run.scored_at is None:
        return Evaluation(None, "the run was not scored, so it says nothing about the metrics")
    try:
        return EVALUATORS[rule.kind](rule, context)
    except (scoring.RunNotScorableError, ValueError) as exc:
        log.warning("rule %s on run %s: %s", rule.pk, context.run.pk, exc)
        return Evaluation(None, f"could not be evaluated: {exc}")


SUPERSEDED = Evaluation(None, "a later run of the endpoint was judged first")
# Two workers opening the same rule's alert at once: the loser judges again, seeing the alert.
JUDGE_ATTEMPTS = 3


def judge(rule: AlertRule, run: Run, context: RunContext) -> list[AlertEvent]:
    """Record the rule's verdict on the run and move its alert, in one transaction; nothing if
    another worker judged this (run, rule) first.

    The evaluation (a permutation test, maybe) is computed before the transaction, so no lock
    is held meanwhile; inside it, the rule's row is locked, so judgements of one rule are taken
    one at a time and each sees the verdicts and alerts the others committed."""
    evaluation = SUPERSEDED if _superseded(rule, run) else evaluate(rule, context)
    for _ in range(JUDGE_ATTEMPTS):
        try:
            with transaction.atomic():
                list(AlertRule.objects.select_for_update().filter(pk=rule.pk).only("pk"))
                if RuleEvaluation.objects.filter(run=run, rule=rule).exists():
                    return []
                superseded = evaluation is SUPERSEDED or _superseded(rule, run)
                RuleEvaluation.objects.create(
                    run=run,
                    rule=rule,
                    outcome=_outcome(evaluation, superseded),
                    summary=SUPERSEDED.summary if superseded else evaluation.summary,
                    value=evaluation.value,
                    baseline_value=evaluation.baseline_value,
                    p_value=evaluation.p_value,
                )
                return [] if superseded else apply(rule, run, evaluation)
        except IntegrityError:
            if RuleEvaluation.objects.filter(run=run, rule=rule).exists():
                return []
    raise RuntimeError(f"rule {rule.pk} on run {run.pk}: the alert kept changing underneath")


def _superseded(rule: AlertRule, run: Run) -> bool:
    """Whether a later run of the endpoint was judged by this rule (or, before verdicts were
    recorded, evaluated): this run's verdict must not move the alert back in time."""
    return (
        Run.objects.filter(endpoint_id=run.endpoint_id, created_at__gt=run.created_at)
        .filter(Q(rule_evaluations__rule=rule) | Q(alerts_evaluated_at__isnull=False))
        .exists()
    )


def _outcome(evaluation: Evaluation, superseded: bool) -> str:
    if superseded:
        return Outcome.SUPERSEDED
    if evaluation.breached is None:
        return Outcome.UNKNOWN
    return Outcome.BREACHED if evaluation.breached else Outcome.CLEAR


@transaction.atomic
def apply(
    rule: AlertRule, run: Run, evaluation: Evaluation, now: datetime | None = None
) -> list[AlertEvent]:
    """Move the open alert of (rule, endpoint) according to one evaluation."""
    if evaluation.breached is None:
        return []
    now = now or timezone.now()
    alert = (
        Alert.objects.select_for_update()
        .filter(rule=rule, endpoint=run.endpoint, state__in=OPEN_ALERT_STATES)
        .first()
    )
    events: list[AlertEvent] = []
    if not evaluation.breached:
        if alert is not None:
            kind = EventKind.RESOLVED if alert.state == AlertState.FIRING else EventKind.CLEARED
            alert.state, alert.resolved_at = AlertState.RESOLVED, now
            _update_figures(alert, evaluation)
            alert.save()
            events.append(_record(alert, kind, now, run, evaluation.value, evaluation.summary))
        return events

    was_firing = alert is not None and alert.state == AlertState.FIRING
    if alert is None:
        alert = Alert(rule=rule, endpoint=run.endpoint, state=AlertState.PENDING, opened_at=now)
    else:
        alert.breaching_runs += 1
    _update_figures(alert, evaluation)
    if alert.state == AlertState.PENDING and alert.breaching_runs >= rule.consecutive_runs:
        alert.state, alert.fired_at = AlertState.FIRING, now
        kind = EventKind.FIRED
    elif was_firing and _reminder_due(alert, rule, now):
        kind = EventKind.REMINDER
    elif alert.pk is None:
        kind = EventKind.PENDING
    else:
        kind = None
    if kind in (EventKind.FIRED, EventKind.REMINDER):
        alert.last_notified_at = now
    alert.save()
    if kind is not None:
        events.append(_record(alert, kind, now, run, evaluation.value, evaluation.summary))
    return events


def _reminder_due(alert: Alert, rule: AlertRule, now: datetime) -> bool:
    if not rule.reminder_hours or alert.acknowledged_at or alert.last_notified_at is None:
        return False
    return now - alert.last_notified_at >= timedelta(hours=rule.reminder_hours)


def _update_figures(alert: Alert, evaluation: Evaluation) -> None:
    alert.summary = evaluation.summary
    alert.value = evaluation.value
    alert.baseline_value = evaluation.baseline_value
    alert.p_value = evaluation.p_value


def _record(
    alert: Alert,
    kind: str,
    now: datetime,
    run: Run | None = None,
    value: float | None = None,
    message: str = "",
) -> AlertEvent:
    event = AlertEvent.objects.create(
        alert=alert, kind=kind, run=run, value=value, message=message, created_at=now
    )
    if kind in NOTIFYING_EVENTS and not alert.is_silenced(now):
        delivery.queue_notifications(event)
    log.info("alert %s (%s): %s", alert.pk, alert, kind)
    return event


def acknowledge(alert: Alert, user) -> AlertEvent:
    """Stop reminders for this alert; it still resolves (and says so) when the value recovers."""
    alert.acknowledged_at, alert.acknowledged_by = timezone.now(), user
    alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return _record(alert, EventKind.ACKNOWLEDGED, alert.acknowledged_at, message=f"by {user}")


def silence(alert: Alert, until: datetime) -> AlertEvent:
    """Send nothing about this alert until ``until``; its state still changes and is stored."""
    alert.silenced_until = until
    alert.save(update_fields=["silenced_until"])
    return _record(
        alert, EventKind.SILENCED, timezone.now(), message=f"until {until:%Y-%m-%d %H:%M %Z}"
    )
