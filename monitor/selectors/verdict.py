"""The release gate's verdict on a run: pending until every alert rule has judged it, then
fail when any rule found it breached (a drop from the baseline endpoint's run beyond the alert
policy, a threshold crossed, a creep), pass otherwise, error when it could not be judged."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse

from monitor.models import Outcome, Run, RunStage, RunStatus
from monitor.services import baselines

PENDING, PASS, FAIL, ERROR = "pending", "pass", "fail", "error"


@dataclass(frozen=True)
class RuleFinding:
    """One rule's verdict on the run, as the run page shows it."""

    rule: int
    rule_name: str
    kind: str
    metric: str
    severity: str
    outcome: str
    summary: str
    value: float | None
    baseline_value: float | None
    p_value: float | None


@dataclass(frozen=True)
class Verdict:
    run: Run
    state: str
    reason: str
    baseline_run: int | None
    regressed: list[RuleFinding] = field(default_factory=list)
    undecided: list[RuleFinding] = field(default_factory=list)

    @property
    def links(self) -> dict[str, str]:
        """Paths of the run page and, when there is a baseline run, of the comparison."""
        links = {"run": self.run.get_absolute_url()}
        if self.baseline_run:
            query = urlencode({"by": "run", "a": self.baseline_run, "b": self.run.pk})
            links["compare"] = f"{reverse('compare')}?{query}"
        return links


PENDING_REASONS = {
    RunStage.SAMPLING: "sampling",
    RunStage.SAMPLED: "sampled; scoring next",
    RunStage.SCORED: "scored; the alert rules judge it next",
    RunStage.WAITING_FOR_BASELINE: "waiting for the baseline endpoint's first scored run",
}


def run_verdict(run: Run) -> Verdict:
    stage = run.stage
    baseline = baselines.baseline_for(run) if run.scored_at else None
    baseline_id = baseline.pk if baseline else None
    if stage in PENDING_REASONS:
        return Verdict(run, PENDING, PENDING_REASONS[stage], baseline_id)
    if stage == RunStage.STOPPED:
        return Verdict(run, ERROR, f"the pipeline gave up on the run: {run.stage_error}", None)
    if run.status == RunStatus.FAILED:
        return Verdict(run, ERROR, f"the run failed: {run.error_summary}", None)
    if run.score_error:
        return Verdict(run, ERROR, f"the run could not be scored: {run.score_error}", None)
    findings = rule_findings(run)
    regressed = [finding for finding in findings if finding.outcome == Outcome.BREACHED]
    undecided = [finding for finding in findings if finding.outcome == Outcome.UNKNOWN]
    if regressed:
        names = ", ".join(finding.metric or finding.kind for finding in regressed)
        return Verdict(run, FAIL, f"regressed: {names}", baseline_id, regressed, undecided)
    return Verdict(run, PASS, "no alert rule breached", baseline_id, [], undecided)


def rule_findings(run: Run) -> list[RuleFinding]:
    return [
        RuleFinding(
            rule=evaluation.rule_id,
            rule_name=str(evaluation.rule),
            kind=evaluation.rule.kind,
            metric=evaluation.rule.metric,
            severity=evaluation.rule.severity,
            outcome=evaluation.outcome,
            summary=evaluation.summary,
            value=evaluation.value,
            baseline_value=evaluation.baseline_value,
            p_value=evaluation.p_value,
        )
        for evaluation in run.rule_evaluations.select_related("rule")
    ]
