"""The run page: its metrics against the baseline, per-prompt figures, wrong probes, samples."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from monitor.models import AlertRule, PromptKind, RuleEvaluation, Run
from monitor.selectors.metrics import metric_description, metric_label, ordered_metrics
from monitor.services import baselines

# Popularity buckets as the evaluators name them, rarest first: the tail is where collapse shows.
TERCILES: tuple[tuple[str, str], ...] = (
    ("tail", "Tail (rarest third)"),
    ("torso", "Torso (middle third)"),
    ("head", "Head (best-known third)"),
    ("", "Unbucketed"),
)


@dataclass(frozen=True)
class MetricRow:
    metric: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int
    baseline: float | None

    @property
    def label(self) -> str:
        return metric_label(self.metric)

    @property
    def description(self) -> str:
        return metric_description(self.metric)


def run_metric_rows(run: Run, baseline: Run | None) -> list[MetricRow]:
    """The run's report as table rows, headline signs first, with the baseline's values."""
    if not run.report:
        return []
    metrics = run.report["metrics"]
    baseline_metrics = (baseline.report or {}).get("metrics", {}) if baseline else {}
    return [
        MetricRow(
            key,
            metrics[key]["value"],
            metrics[key]["ci_low"],
            metrics[key]["ci_high"],
            metrics[key]["n"],
            baseline_metrics.get(key, {}).get("value"),
        )
        for key in ordered_metrics(metrics)
    ]


def prompt_breakdown(run: Run) -> tuple[list[str], list[dict]]:
    """The report's per-prompt figures: the metric columns any prompt has, and one row per
    prompt in prompt-set order with its text, kind and popularity tercile."""
    if not run.report:
        return [], []
    per_prompt = run.report.get("prompts", {})
    columns = ordered_metrics({key for entry in per_prompt.values() for key in entry["metrics"]})
    prompts = run.prompt_set_version.prompts.only("key", "kind", "text")
    rows = [
        {
            "prompt": prompt,
            "n_samples": per_prompt[prompt.key]["n_samples"],
            "tercile": per_prompt[prompt.key].get("tercile", ""),
            "values": [per_prompt[prompt.key]["metrics"].get(key) for key in columns],
        }
        for prompt in prompts
        if prompt.key in per_prompt
    ]
    return columns, rows


def wrong_probes_by_bucket(run: Run) -> list[dict]:
    """The probes the run answered wrong at least once, grouped by popularity bucket, rarest
    bucket first and rarest probe first within it; each with its wrong answers."""
    from evaluators import is_correct

    per_prompt = (run.report or {}).get("prompts", {})
    terciles = {key: entry.get("tercile", "") for key, entry in per_prompt.items()}
    wrong: dict[int, dict] = {}
    samples = run.samples.filter(error="", prompt__kind=PromptKind.PROBE).select_related("prompt")
    for sample in samples.order_by("prompt__position", "sample_index"):
        prompt = sample.prompt
        entry = wrong.setdefault(prompt.pk, {"prompt": prompt, "wrong": [], "total": 0})
        entry["total"] += 1
        if not is_correct(sample.text, prompt.gold):
            entry["wrong"].append(sample)
    buckets = []
    for tercile, title in TERCILES:
        probes = [
            entry
            for entry in wrong.values()
            if entry["wrong"] and terciles.get(entry["prompt"].key, "") == tercile
        ]
        if probes:
            probes.sort(key=lambda entry: rarest_first(entry["prompt"].popularity))
            buckets.append({"tercile": tercile, "title": title, "probes": probes})
    return buckets


def rarest_first(popularity: float | None) -> tuple[bool, float]:
    return (popularity is None, popularity or 0.0)


def run_samples_by_prompt(run: Run) -> list[dict]:
    """The run's samples grouped under their prompt, in prompt-set order."""
    prompts = run.prompt_set_version.prompts.prefetch_related(
        Prefetch("samples", queryset=run.samples.order_by("sample_index"), to_attr="run_samples")
    )
    return [{"prompt": prompt, "samples": prompt.run_samples} for prompt in prompts]


@dataclass(frozen=True)
class RuleVerdict:
    """One row of the run page's rule table: a recorded verdict, or a rule still waiting."""

    rule: AlertRule
    outcome: str
    outcome_label: str
    summary: str


def rule_verdicts(run: Run) -> list[RuleVerdict]:
    """What each alert rule said of the run, then the rules that wait for its baseline."""
    judged: list[RuleEvaluation] = list(run.rule_evaluations.select_related("rule"))
    rows = [
        RuleVerdict(verdict.rule, verdict.outcome, verdict.get_outcome_display(), verdict.summary)
        for verdict in judged
    ]
    if run.awaits_baseline and not run.alerts_evaluated_at:
        judged_ids = {verdict.rule_id for verdict in judged}
        rows += [
            RuleVerdict(rule, "waiting", "Waiting", "judged once the baseline endpoint is scored")
            for rule in AlertRule.for_endpoint(run.endpoint)
            if rule.pk not in judged_ids and baselines.depends_on_baseline(rule)
        ]
    return rows
