"""The answers' length as context: how long a run's outputs are, and one line that says when
a run answers at another length than the run it is compared with.

Raw diversity figures move with length alone (:mod:`evaluators.length`), so the alert email,
the alerts page, the run page and the compare page say so when two runs differ in length, and
point at the length-matched signs the alert policy judges. The line is written here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluators import METRICS
from monitor.models import AlertRule, RuleKind, Run
from monitor.services.baselines import baseline_for

# Two runs whose median lengths differ by less than this fraction of the reference's say nothing.
LENGTH_TOLERANCE = 0.10
POLICY_CLAUSE = "the alert policy judges the length-matched signs"
ALERT_CLAUSE = "the alert judges the length-matched signs"


@dataclass(frozen=True)
class RunLengths:
    """A run's outputs in tokens: the mean (``tokens_per_output``), the quartiles, and the
    window its length-matched metrics were measured at (None when unknown)."""

    mean: float | None
    q1: float | None
    median: float | None
    q3: float | None
    window: int | None


def run_lengths(run: Run | None) -> RunLengths | None:
    """The lengths a run's report holds; None for a run without a report or without lengths."""
    report = (run.report or {}) if run is not None else {}
    lengths = report.get("lengths") or {}
    if not lengths:
        return None
    mean = report.get("metrics", {}).get("tokens_per_output", {}).get("value")
    return RunLengths(
        mean,
        lengths.get("q1"),
        lengths.get("median"),
        lengths.get("q3"),
        report.get("counts", {}).get("window_tokens"),
    )


def _median(run: Run | None) -> float | None:
    lengths = run_lengths(run)
    return lengths.median if lengths else None


def _tokens(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() or value >= 100 else f"{value:.1f}"


def length_context(
    run: Run | None,
    reference: Run | None,
    *,
    subject: str = "Answers",
    than: str = "the baseline",
    clause: str = ALERT_CLAUSE,
) -> str:
    """ "Answers 2.0× longer than the baseline (median 78 vs 39 tokens per output); the alert
    judges the length-matched signs." from the median tokens per output of ``run`` and
    ``reference``; "" when either median is unknown or they differ by less than 10%."""
    median, base = _median(run), _median(reference)
    if not median or not base:
        return ""
    ratio = median / base
    if abs(ratio - 1) < LENGTH_TOLERANCE:
        return ""
    how = f"{ratio:.1f}× longer" if ratio > 1 else f"{1 / ratio:.1f}× shorter"
    medians = f"median {_tokens(median)} vs {_tokens(base)} tokens per output"
    line = f"{subject} {how} than {than} ({medians})"
    return f"{line}; {clause}." if clause else f"{line}."


def alert_length_context(rule: AlertRule, run: Run | None) -> str:
    """The length line of an alert on ``run``: for a drop rule, the run against the baseline
    it was judged against; the clause on the length-matched signs only when the rule watches
    one."""
    if rule.kind != RuleKind.DROP or run is None or not run.report:
        return ""
    metric = METRICS.get(rule.metric)
    clause = ALERT_CLAUSE if metric is not None and metric.length_matched else ""
    return length_context(run, baseline_for(run), clause=clause)
