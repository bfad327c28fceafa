"""Scoring a run: :func:`score` turns a :class:`Batch` into a JSON-ready :class:`Report`. The
measuring helpers here are shared with :mod:`evaluators.comparison`."""

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from evaluators import length
from evaluators.embedding import Encoder, SentenceTransformerEncoder
from evaluators.features import Features, PromptOutputs
from evaluators.metrics import METRIC_KEYS, METRICS, Metric
from evaluators.stats import (
    JACKKNIFE_GROUPS,
    jackknife_interval,
    jackknife_masks,
)
from evaluators.tokenize import tokenize


def _gold_tuple(gold: Any) -> tuple[str, ...] | None:
    if gold is None:
        return None
    if isinstance(gold, str) or not all(isinstance(alias, str) for alias in gold):
        raise ValueError("gold must be a list of alias strings")
    return tuple(gold)


def _popularity(popularity: Any) -> float | None:
    if popularity is None:
        return None
    if isinstance(popularity, bool) or not isinstance(popularity, int | float):
        raise ValueError("popularity must be a number")
    if not math.isfinite(popularity):
        raise ValueError("popularity must be finite")
    return float(popularity)


@dataclass(frozen=True)
class Batch:
    """The outputs of one run, grouped by prompt, with optional precomputed embeddings (one
    row per output, in the order of :attr:`texts`)."""

    prompts: tuple[PromptOutputs, ...]
    embeddings: np.ndarray | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.prompts:
            raise ValueError("a batch needs at least one prompt")
        ids = [prompt.prompt_id for prompt in self.prompts]
        if len(set(ids)) != len(ids):
            raise ValueError("prompt ids must be unique within a batch")
        for prompt in self.prompts:
            if not prompt.texts:
                raise ValueError(f"prompt {prompt.prompt_id!r} has no outputs")
            if not all(isinstance(text, str) for text in prompt.texts):
                raise ValueError(f"prompt {prompt.prompt_id!r} has an output that is not text")
        if self.embeddings is not None and len(self.embeddings) != len(self.texts):
            raise ValueError(f"got {len(self.embeddings)} embeddings for {len(self.texts)} outputs")

    @property
    def texts(self) -> tuple[str, ...]:
        """Every output, prompt by prompt."""
        return tuple(text for prompt in self.prompts for text in prompt.texts)

    @property
    def natural_window(self) -> int | None:
        """The window this run is length-matched at on its own (see :mod:`evaluators.length`);
        None when every output is empty. Set by the answers to open prompts when there are any:
        a factual probe is answered in a few words, and those would cut every answer to them."""
        open_texts = [
            text for prompt in self.prompts if prompt.gold is None for text in prompt.texts
        ]
        window = length.natural_window([len(tokenize(text)) for text in open_texts or [""]])
        return window or length.natural_window([len(tokenize(text)) for text in self.texts])

    @classmethod
    def from_rows(
        cls, rows: Iterable[Mapping[str, Any] | Sequence[Any]], embeddings: np.ndarray | None = None
    ) -> "Batch":
        """Group rows into a batch, keeping the order in which prompts first appear.

        A row is a mapping with ``prompt_id``, ``text`` and optionally ``gold`` (alias list)
        and ``popularity``, or a tuple ``(prompt_id, text[, gold[, popularity]])``. Rows of
        one prompt must agree on gold and popularity. ``embeddings``, if given, has one row
        per input row; it is reordered with the rows.
        """
        grouped: dict[str, list[tuple[int, str]]] = {}
        probe_info: dict[str, tuple[tuple[str, ...] | None, float | None]] = {}
        for index, row in enumerate(rows):
            if isinstance(row, Mapping):
                prompt_id, text = row.get("prompt_id"), row.get("text")
                gold, popularity = row.get("gold"), row.get("popularity")
            else:
                prompt_id, text, gold, popularity = (*row, None, None)[:4]
            if not isinstance(prompt_id, str | int) or isinstance(prompt_id, bool):
                raise ValueError(f"row {index}: prompt_id must be a string or an integer")
            if not isinstance(text, str):
                raise ValueError(f"row {index}: text must be a string")
            info = (_gold_tuple(gold), _popularity(popularity))
            key = str(prompt_id)
            if probe_info.setdefault(key, info) != info:
                raise ValueError(
                    f"row {index}: gold or popularity differs from earlier rows of {key!r}"
                )
            grouped.setdefault(key, []).append((index, text))
        prompts = tuple(
            PromptOutputs(key, tuple(text for _, text in items), *probe_info[key])
            for key, items in grouped.items()
        )
        if embeddings is not None:
            order = [index for items in grouped.values() for index, _ in items]
            embeddings = np.asarray(embeddings)[order]
        return cls(prompts, embeddings)


@dataclass(frozen=True)
class MetricValue:
    """A metric's value with its 95% confidence interval over prompts (None when the batch has
    a single prompt) and ``n``, the number of prompts it draws on."""

    value: float
    ci_low: float | None
    ci_high: float | None
    n: int


@dataclass(frozen=True)
class Report:
    """Every metric that applies to a batch, counts, per-prompt breakdowns, and the outputs'
    lengths in tokens (quartiles and natural window, see :mod:`evaluators.length`).
    ``counts["window_tokens"]`` is the window its length-matched metrics were measured at."""

    metrics: dict[str, MetricValue]
    prompts: dict[str, dict[str, Any]]
    counts: dict[str, int]
    lengths: dict[str, float] = field(default_factory=dict)

    def values(self) -> dict[str, float]:
        """Metric key to value."""
        return {key: metric.value for key, metric in self.metrics.items()}

    def to_dict(self) -> dict[str, Any]:
        """``{"metrics": {key: {"value", "ci_low", "ci_high", "n"}}, "prompts", "counts",
        "lengths"}``."""
        return asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        """The report as JSON; NaN and infinity cannot occur (``allow_nan=False``)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Report":
        """Rebuild a report from :meth:`to_dict` output, e.g. a stored baseline."""
        return cls(
            {key: MetricValue(**value) for key, value in data["metrics"].items()},
            dict(data.get("prompts", {})),
            dict(data.get("counts", {})),
            dict(data.get("lengths", {})),
        )


def _encode(batches: Sequence[Batch], encoder: Encoder | None, embed: bool) -> np.ndarray | None:
    """The batches' embeddings, stacked: precomputed where every batch has them, else encoded
    (default encoder: all-MiniLM-L6-v2); None when ``embed`` is false."""
    if not embed:
        return None
    if all(batch.embeddings is not None for batch in batches):
        return np.vstack([batch.embeddings for batch in batches])
    texts = [text for batch in batches for text in batch.texts]
    return (encoder or SentenceTransformerEncoder()).encode(texts)


def batch_features(
    batches: Sequence[Batch],
    window: int | None,
    encoder: Encoder | None,
    embed: bool,
    keys: Iterable[str] = METRIC_KEYS,
) -> Features:
    """The pooled batches' statistics, full and cut to ``window`` tokens. The cut outputs are
    embedded with ``encoder`` (default: all-MiniLM-L6-v2) when the full ones are and one of the
    metrics ``keys`` (or their components) needs it."""
    embeddings = _encode(batches, encoder, embed)
    needed = _with_components(keys)
    embed_windows = embed and any(
        METRICS[key].length_matched and METRICS[key].uses_embeddings for key in needed
    )
    window_encoder = (encoder or SentenceTransformerEncoder()) if embed_windows else None
    prompts = [prompt for batch in batches for prompt in batch.prompts]
    return Features.build(prompts, embeddings, window, window_encoder)


def _with_components(keys: Iterable[str]) -> set[str]:
    wanted = set(keys)
    return wanted | {part for key in wanted for part in METRICS[key].components}


Reference = Report | Batch | Mapping[str, float] | None


def window_of(reference: Reference) -> int | None:
    """The window a reference run was measured at: a report's, or a batch's natural one."""
    if isinstance(reference, Report):
        return reference.counts.get("window_tokens")
    if isinstance(reference, Batch):
        return reference.natural_window
    return None


def reference_values(
    reference: Reference, window: int | None, encoder: Encoder | None, embed: bool
) -> Mapping[str, float] | None:
    """The reference's metric values for derived metrics: a batch is measured at ``window``,
    so that both sides of the blandness index are cut alike."""
    if isinstance(reference, Report):
        return reference.values()
    if isinstance(reference, Batch):
        derived = [key for key, metric in METRICS.items() if metric.is_derived]
        features = batch_features([reference], window, encoder, embed, derived)
        full = np.ones((1, features.n_prompts), dtype=bool)
        values = metric_values(features, full, derived)
        return {key: float(rows[0]) for key, rows in values.items() if np.isfinite(rows[0])}
    return reference


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def metric_values(
    features: Features, masks: np.ndarray, keys: Iterable[str]
) -> dict[str, np.ndarray]:
    """Each requested measured metric on each mask, and the components of each requested
    derived one."""
    needed = _with_components(keys)
    return {
        key: metric.evaluate(features, masks)
        for key, metric in METRICS.items()
        if key in needed and not metric.is_derived
    }


def derived_rows(
    metric: Metric, values: Mapping[str, np.ndarray], reference: Mapping[str, float] | None
) -> np.ndarray:
    """A derived metric on each mask row, from its components' values on the same row."""
    rows = len(next(iter(values.values())))
    return np.array(
        [
            _nan_if_none(
                metric.combine(
                    {
                        key: float(values[key][row])
                        for key in metric.components
                        if key in values and np.isfinite(values[key][row])
                    },
                    reference,
                )
            )
            for row in range(rows)
        ]
    )


def add_derived(
    values: dict[str, np.ndarray], keys: Iterable[str], reference: Mapping[str, float] | None
) -> dict[str, np.ndarray]:
    for key in keys:
        if METRICS[key].is_derived:
            values[key] = derived_rows(METRICS[key], values, reference)
    return values


def _nan_if_none(value: float | None) -> float:
    return np.nan if value is None else value


def score(
    batch: Batch,
    *,
    baseline: Reference = None,
    encoder: Encoder | None = None,
    embed: bool = True,
    jackknife_groups: int = JACKKNIFE_GROUPS,
    seed: int = 0,
) -> Report:
    """Compute every metric that applies to ``batch``, with grouped-jackknife 95% intervals.

    Metrics that are undefined for the batch are left out: accuracy metrics without factual
    probes, embedding metrics with ``embed=False``, within-prompt metrics when no prompt has
    two samples, Self-BLEU with a single output, the rarefied type counts below 1,000 words.
    ``baseline`` (a batch, report or metric values of the same endpoint) is the reference of
    the blandness index; the length-matched metrics are measured at the window shared with it
    (a batch is measured at that window too; a report brings the values of its own window).
    The jackknife groups are seeded, so scoring the same batch twice gives the same figures.
    """
    window = length.shared_window(batch.natural_window, window_of(baseline))
    features = batch_features([batch], window, encoder, embed)
    masks = np.vstack(
        [
            np.ones((1, features.n_prompts), dtype=bool),
            jackknife_masks(features.n_prompts, jackknife_groups, seed),
        ]
    )
    measured = metric_values(features, masks, METRIC_KEYS)
    if baseline is batch:
        # A batch scored against itself is its own reference: its blandness index is exactly 0.
        baseline_values = {key: float(rows[0]) for key, rows in measured.items()}
    else:
        baseline_values = reference_values(baseline, window, encoder, embed)
    values = add_derived(measured, METRIC_KEYS, baseline_values)
    metrics = {}
    for key, rows in values.items():
        if not np.isfinite(rows[0]):
            continue
        metric = METRICS[key]
        support = (
            metric.support(features) if metric.support else np.ones(features.n_prompts, dtype=bool)
        )
        metrics[key] = MetricValue(
            float(rows[0]),
            *jackknife_interval(rows[0], rows[1:], metric.bounds),
            int(support.sum()),
        )
    return Report(
        metrics,
        _prompt_breakdown(batch, features),
        _counts(features, len(masks) - 1),
        length.quartiles(features.table.lengths),
    )


def _prompt_breakdown(batch: Batch, features: Features) -> dict[str, dict[str, Any]]:
    per_prompt = {
        key: metric.per_prompt(features) for key, metric in METRICS.items() if metric.per_prompt
    }
    breakdown = {}
    for index, prompt in enumerate(batch.prompts):
        entry: dict[str, Any] = {
            "n_samples": len(prompt.texts),
            "metrics": {
                key: float(values[index])
                for key, values in per_prompt.items()
                if np.isfinite(values[index])
            },
        }
        if features.tercile_of_prompt[index]:
            entry["tercile"] = features.tercile_of_prompt[index]
        breakdown[prompt.prompt_id] = entry
    return breakdown


def _counts(features: Features, jackknife_groups: int) -> dict[str, int]:
    return {
        "prompts": features.n_prompts,
        "outputs": len(features.texts),
        "tokens": int(features.table.lengths.sum()),
        "probe_outputs": int(features.is_probe.sum()),
        "jackknife_groups": jackknife_groups,
        "window_tokens": features.window,
    }
