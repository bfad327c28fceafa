"""Which metrics the pages show first, and their names as read from the evaluators' catalogue."""

from __future__ import annotations

from collections.abc import Iterable

from evaluators import METRIC_KEYS, METRICS

# The signs the overview shows, in the order a reader scans them: variety of words, the rare
# words, variety of meaning (each at equal length, as the alert policy judges them), rare
# facts, the head-tail gap, the one-figure blandness index, and the answers' length as context.
HEADLINE_METRICS: tuple[str, ...] = (
    "distinct_2_matched",
    "tail_types_matched",
    "embedding_diversity_within_matched",
    "rare_entity_accuracy",
    "tail_gap",
    "blandness_index",
    "tokens_per_output",
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
