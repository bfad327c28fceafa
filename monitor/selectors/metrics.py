"""Labels, descriptions and order of the metrics, and the overview's headline warning signs."""

from __future__ import annotations

from collections.abc import Iterable

# The six signs the overview shows, in the order a reader scans them: variety of words, variety
# of meaning, rare facts, the head-tail gap, repetition, and the one-figure blandness index.
HEADLINE_METRICS: tuple[str, ...] = (
    "distinct_2",
    "embedding_diversity_within",
    "rare_entity_accuracy",
    "tail_gap",
    "rep_4",
    "blandness_index",
)
METRIC_LABELS: dict[str, str] = {
    "distinct_2": "Distinct-2",
    "embedding_diversity_within": "Embedding diversity",
    "rare_entity_accuracy": "Rare-entity accuracy",
    "tail_gap": "Tail gap",
    "rep_4": "Repetition",
    "blandness_index": "Blandness index",
    "self_bleu": "Self-BLEU",
    "vendi_within": "Vendi (within prompt)",
    "vendi_across": "Vendi (across prompts)",
}


def metric_label(metric: str) -> str:
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    return metric.replace("_", " ").capitalize().replace("Distinct ", "Distinct-")


def metric_description(metric: str) -> str:
    from evaluators.metrics import METRICS

    if metric in METRICS:
        return METRICS[metric].description
    return "0: as varied as the baseline, 100: degenerate text"


def ordered_metrics(keys: Iterable[str]) -> list[str]:
    """Headline signs first, then the rest in the evaluators' order; unknown keys dropped."""
    from evaluators import METRIC_KEYS

    present = set(keys)
    order = [*HEADLINE_METRICS, *(key for key in METRIC_KEYS if key not in HEADLINE_METRICS)]
    return [key for key in order if key in present]
