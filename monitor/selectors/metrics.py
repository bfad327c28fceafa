"""Which metrics the pages show first, and their names as read from the evaluators' catalogue."""

from __future__ import annotations

from collections.abc import Iterable

from evaluators import METRIC_KEYS, METRICS

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


def metric_label(metric: str) -> str:
    """The metric's label; a key the catalogue no longer has (an old report) shows as is."""
    return METRICS[metric].label if metric in METRICS else metric


def metric_description(metric: str) -> str:
    return METRICS[metric].description if metric in METRICS else ""


def ordered_metrics(keys: Iterable[str]) -> list[str]:
    """Headline signs first, then the rest in the evaluators' order; unknown keys dropped."""
    present = set(keys)
    order = [*HEADLINE_METRICS, *(key for key in METRIC_KEYS if key not in HEADLINE_METRICS)]
    return [key for key in order if key in present]
