"""The compare page: two runs, the latest of two endpoints, or of two versions of a model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from evaluators import METRICS
from evaluators.policy import DEFAULT_POLICY, change_in_words
from monitor.models import (
    Endpoint,
    Prompt,
    PromptKind,
    Run,
    RunQuerySet,
    Sample,
)
from monitor.selectors.endpoint import latest_scored_run
from monitor.selectors.metrics import HEADLINE_METRICS, metric_label, ordered_metrics
from monitor.selectors.run import rarest_first
from monitor.selectors.series import CHART_POINTS, metric_chart, metric_series


class ComparisonError(Exception):
    """Why two things cannot be compared, in words for the user."""


COMPARE_BY = {
    "endpoint": "Two endpoints",
    "version": "Two versions of a model family",
    "run": "Two runs",
}


def _latest_scored(runs: RunQuerySet, what: str) -> Run:
    run = latest_scored_run(runs)
    if run is None:
        raise ComparisonError(f"{what} has no scored run yet.")
    return run


def comparison_runs(by: str, a: str, b: str, family: str = "") -> tuple[Run, Run]:
    """The two scored runs a comparison is about: two runs by id, the latest scored runs of two
    endpoints, or the latest scored runs of two version labels of one model family."""
    runs = Run.objects.select_related("endpoint", "prompt_set_version__prompt_set")
    if by == "run":
        found = runs.in_bulk([a, b])
        pair = [found.get(int(key)) for key in (a, b)]
        missing = [key for key, run in zip((a, b), pair, strict=True) if run is None]
        if missing:
            raise ComparisonError(f"No run #{missing[0]}.")
        unscored = [run for run in pair if run.report is None]
        if unscored:
            raise ComparisonError(f"Run #{unscored[0].pk} is not scored (yet).")
        return pair[0], pair[1]
    if by == "endpoint":
        endpoints = Endpoint.objects.in_bulk([a, b])
        if int(a) not in endpoints or int(b) not in endpoints:
            raise ComparisonError("Pick two existing endpoints.")
        return tuple(
            _latest_scored(runs.filter(endpoint_id=key), str(endpoints[int(key)])) for key in (a, b)
        )
    if by == "version":
        return tuple(
            _latest_scored(
                runs.filter(endpoint__model_family=family, endpoint__version_label=label),
                f"Version {label!r} of {family!r}",
            )
            for label in (a, b)
        )
    raise ComparisonError(f"Unknown comparison {by!r}.")


def family_versions() -> dict[str, list[str]]:
    """Each model family's version labels: the choices of a version comparison."""
    versions: dict[str, list[str]] = defaultdict(list)
    pairs = Endpoint.objects.order_by("model_family", "version_label").values_list(
        "model_family", "version_label"
    )
    for family, label in pairs.distinct():
        versions[family].append(label)
    return dict(versions)


@dataclass(frozen=True)
class ComparedMetric:
    """One metric in runs A and B; ``test`` is the two-sample test's result once computed."""

    metric: str
    a: dict
    b: dict
    test: dict | None

    @property
    def label(self) -> str:
        return metric_label(self.metric)

    @property
    def delta(self) -> float:
        return self.b["value"] - self.a["value"]

    @property
    def relative(self) -> float | None:
        return self.delta / abs(self.a["value"]) if self.a["value"] else None

    @property
    def worse(self) -> bool:
        """Moved in the worse direction; never for context such as the answers' length."""
        metric = METRICS[self.metric]
        return (
            metric.warning_sign and self.delta != 0 and (self.delta > 0) == metric.higher_is_worse
        )

    @property
    def change(self) -> str:
        """The change from A to B in words: "down 12.2%, the worse direction"."""
        return change_in_words(self.b["value"], self.a["value"], self.metric)

    @property
    def length_matched(self) -> bool:
        return METRICS[self.metric].length_matched

    @property
    def judged(self) -> bool:
        """Whether the alert policy judges this metric (its default drop rules watch it)."""
        return self.metric in DEFAULT_POLICY.metrics


def twins_together(keys: Iterable[str]) -> list[str]:
    """``ordered_metrics`` of ``keys``, each length-matched metric next to its raw twin: the raw
    one first, wherever the first of the two comes in that order."""
    present = set(keys)
    order: list[str] = []
    for key in ordered_metrics(present):
        raw = key.removesuffix("_matched")
        for twin in (raw, f"{raw}_matched"):
            if twin in present and twin not in order:
                order.append(twin)
    return order


def compared_metrics(run_a: Run, run_b: Run, tests: dict | None) -> list[ComparedMetric]:
    """Every metric of either run's report, with both values and CIs (None where a run lacks
    the metric), length-matched ones next to their raw twins; ``tests`` maps metric keys to
    their p-value and significance."""
    metrics_a, metrics_b = run_a.report["metrics"], run_b.report["metrics"]
    return [
        ComparedMetric(key, metrics_a[key], metrics_b[key], (tests or {}).get(key))
        for key in twins_together(metrics_a.keys() & metrics_b.keys())
    ]


def _common_prompt_keys(run_a: Run, run_b: Run) -> list[str]:
    keys_b = set(run_b.prompt_set_version.prompts.values_list("key", flat=True))
    keys_a = run_a.prompt_set_version.prompts.values_list("key", flat=True)
    return [key for key in keys_a if key in keys_b]


def _samples_by_key(run: Run, keys: Iterable[str], **filters) -> dict[str, list[Sample]]:
    grouped: dict[str, list[Sample]] = defaultdict(list)
    samples = run.samples.filter(prompt__key__in=list(keys), **filters).select_related("prompt")
    for sample in samples.order_by("prompt__position", "sample_index"):
        grouped[sample.prompt.key].append(sample)
    return grouped


def side_by_side(run_a: Run, run_b: Run, limit: int = 40) -> tuple[list[dict], int]:
    """The first ``limit`` prompts both runs answered, each with A's and B's samples; and how
    many prompts the runs have in common."""
    common = _common_prompt_keys(run_a, run_b)
    shown = common[:limit]
    samples_a, samples_b = _samples_by_key(run_a, shown), _samples_by_key(run_b, shown)
    rows = [
        {"prompt": samples_a[key][0].prompt, "a": samples_a[key], "b": samples_b.get(key, [])}
        for key in shown
        if samples_a.get(key)
    ]
    return rows, len(common)


@dataclass(frozen=True)
class TailLoss:
    """A factual probe that run A answered right and run B wrong."""

    prompt: Prompt
    a_correct: int
    a_total: int
    b_correct: int
    b_total: int
    b_answer: str


def _mostly_right(correct: int, total: int) -> bool:
    return total > 0 and 2 * correct >= total


def tail_losses(run_a: Run, run_b: Run) -> list[TailLoss]:
    """Probes that A answered right (at least half its samples hold a gold alias) and B wrong
    (fewer than half do), rarest entity first: the facts B forgot."""
    from evaluators import is_correct

    keys = _common_prompt_keys(run_a, run_b)
    ok = {"error": "", "prompt__kind": PromptKind.PROBE}
    samples_a, samples_b = _samples_by_key(run_a, keys, **ok), _samples_by_key(run_b, keys, **ok)
    losses = []
    for key, answers_a in samples_a.items():
        answers_b = samples_b.get(key, [])
        gold = answers_a[0].prompt.gold
        right_a = sum(is_correct(sample.text, gold) for sample in answers_a)
        wrong_b = [sample for sample in answers_b if not is_correct(sample.text, gold)]
        right_b = len(answers_b) - len(wrong_b)
        lost = _mostly_right(right_a, len(answers_a)) and not _mostly_right(right_b, len(answers_b))
        if lost and answers_b:
            prompt = answers_a[0].prompt
            losses.append(
                TailLoss(prompt, right_a, len(answers_a), right_b, len(answers_b), wrong_b[0].text)
            )
    losses.sort(key=lambda loss: rarest_first(loss.prompt.popularity))
    return losses


def overlaid_charts(run_a: Run, run_b: Run) -> list[dict]:
    """Headline signs of both runs' endpoints over the month before the later run, one chart
    per sign with a line per endpoint and the two compared runs marked."""
    start = min(run_a.finished_at, run_b.finished_at) - timedelta(days=30)
    endpoints = list({run.endpoint_id: run.endpoint for run in (run_a, run_b)}.values())
    both = run_a.report["metrics"].keys() & run_b.report["metrics"].keys()
    markers = [
        {"t": int(run.finished_at.timestamp()), "kind": "run", "label": name}
        for name, run in (("A", run_a), ("B", run_b))
    ]
    return [
        metric_chart(
            metric,
            [(str(e), metric_series(e, metric, start, None, CHART_POINTS)) for e in endpoints],
            markers,
        )
        for metric in ordered_metrics(both & set(HEADLINE_METRICS))
    ]
