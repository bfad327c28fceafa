"""The metric catalogue: every warning sign, with its label, description, polarity and range.

``METRICS`` is the one list of metrics; everything that names, orders, labels or judges a
metric (reports, the dashboard, alert rules, emails) reads it. A measured metric is a function
of the batch's sufficient statistics (:class:`~evaluators.features.Features`) and a boolean
``(selections, prompts)`` mask array, returning one value per selection (NaN where undefined).
The full batch is one selection; jackknife replicates and permutation halves are others, so
confidence intervals and two-sample tests re-aggregate counts instead of re-reading text. A
derived metric (the blandness index) is computed from other metrics' values on the same
selection and a reference.
"""

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from evaluators import blandness, embedding, lexical, vocabulary
from evaluators.features import Features

Evaluate = Callable[[Features, np.ndarray], np.ndarray]


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One warning sign: its key, how people read it (``label``, ``description`` with the
    formula and source), which way is worse, its natural range, and how it is computed.

    A measured metric has ``evaluate`` (values on prompt selections), ``support`` (the prompts it
    draws on; all when None) and optionally ``per_prompt``. A derived metric instead names its
    ``components`` and ``combine``s their values on a selection with a reference's values;
    ``baseline_relative`` says that reference is another run, so the metric means nothing
    without one. ``warning_sign`` is False for context that is neither better nor worse (the
    answers' length); ``length_matched`` marks the metrics computed on a common window of
    tokens (:mod:`evaluators.length`); ``uses_embeddings`` those read from sentence
    embeddings."""

    key: str
    label: str
    description: str
    higher_is_worse: bool
    bounds: tuple[float | None, float | None]
    evaluate: Evaluate | None = None
    support: Callable[[Features], np.ndarray] | None = None
    per_prompt: Callable[[Features], np.ndarray] | None = None
    components: tuple[str, ...] = ()
    combine: Callable[[Mapping[str, float], Mapping[str, float] | None], float | None] | None = None
    baseline_relative: bool = False
    warning_sign: bool = True
    length_matched: bool = False
    uses_embeddings: bool = False

    @property
    def is_derived(self) -> bool:
        return bool(self.components)


def _ratio(
    numerator: np.ndarray, denominator: np.ndarray, masks: np.ndarray, empty: float
) -> np.ndarray:
    top, bottom = masks @ numerator, masks @ denominator
    return np.divide(top, bottom, out=np.full(len(masks), empty, dtype=float), where=bottom > 0)


@dataclass(frozen=True)
class RatioMetric:
    """A metric of the form sum over selected prompts of a numerator over the same sum of a
    denominator; ``empty`` is its value when the denominator is zero."""

    numerator: Callable[[Features], np.ndarray]
    denominator: Callable[[Features], np.ndarray]
    empty: float = np.nan

    def evaluate(self, features: Features, masks: np.ndarray) -> np.ndarray:
        return _ratio(self.numerator(features), self.denominator(features), masks, self.empty)

    def support(self, features: Features) -> np.ndarray:
        return self.denominator(features) > 0

    def per_prompt(self, features: Features) -> np.ndarray:
        numerator, denominator = self.numerator(features), self.denominator(features)
        empty = np.full(features.n_prompts, self.empty, dtype=float)
        return np.divide(numerator, denominator, out=empty, where=denominator > 0)


def _each(function: Callable[[Features, np.ndarray], float]) -> Evaluate:
    """Lift a metric on one prompt mask to an evaluator over many masks.

    Masks are spread over threads: gzip and the large numpy operations behind these metrics
    release the GIL, so replicates run in parallel on several cores.
    """

    def evaluate(features: Features, masks: np.ndarray) -> np.ndarray:
        if len(masks) == 1:
            return np.array([function(features, masks[0])], dtype=float)
        with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
            return np.fromiter(
                pool.map(lambda mask: function(features, mask), masks),
                dtype=float,
                count=len(masks),
            )

    return evaluate


def _all_prompts(features: Features) -> np.ndarray:
    return np.ones(features.n_prompts, dtype=bool)


def _distinct(n: int) -> Evaluate:
    def evaluate(features: Features, masks: np.ndarray) -> np.ndarray:
        unique, total = lexical.distinct_counts(features.table, n, features.prompt_of_output, masks)
        return np.divide(unique, total, out=np.zeros(len(masks)), where=total > 0)

    return evaluate


def _distinct_per_prompt(n: int) -> Callable[[Features], np.ndarray]:
    def per_prompt(features: Features) -> np.ndarray:
        unique, total = features.ngrams_per_prompt(n)
        return np.divide(unique, total, out=np.zeros(features.n_prompts), where=total > 0)

    return per_prompt


def _phrase_repetition(features: Features, mask: np.ndarray) -> float:
    kept = features.kept_outputs(mask)
    return lexical.phrase_repetition_share(features.table, kept) if kept.any() else np.nan


def _compression_ratio(features: Features, mask: np.ndarray) -> float:
    kept = features.kept_outputs(mask)
    texts = [features.texts[i] for i in np.flatnonzero(kept)]
    return lexical.compression_ratio(texts) if texts else np.nan


def _self_bleu(features: Features, mask: np.ndarray) -> float:
    kept = features.kept_outputs(mask)
    return float(features.corpus_bleu.scores(kept)[kept].mean()) if kept.sum() >= 2 else np.nan


def _self_bleu_per_prompt(features: Features) -> np.ndarray:
    samples = np.bincount(features.prompt_of_output, minlength=features.n_prompts)
    sums = features.per_prompt(features.within_prompt_bleu)
    return np.divide(sums, samples, out=np.full(features.n_prompts, np.nan), where=samples >= 2)


def _has_embeddings(features: Features) -> np.ndarray:
    if features.unit_embeddings is None:
        return np.zeros(features.n_prompts, dtype=bool)
    return np.ones(features.n_prompts, dtype=bool)


def _embedding_across(features: Features, masks: np.ndarray) -> np.ndarray:
    unit = features.unit_embeddings
    if unit is None:
        return np.full(len(masks), np.nan)
    sums = np.zeros((features.n_prompts, unit.shape[1]))
    np.add.at(sums, features.prompt_of_output, unit)
    sizes = np.bincount(features.prompt_of_output, minlength=features.n_prompts).astype(float)
    selected_sum = masks @ sums
    pairs = (masks @ sizes) ** 2 - masks @ sizes**2
    similarity = np.einsum("bd,bd->b", selected_sum, selected_sum) - masks @ np.einsum(
        "pd,pd->p", sums, sums
    )
    return np.divide(pairs - similarity, pairs, out=np.full(len(masks), np.nan), where=pairs > 0)


def _vendi_across(features: Features, mask: np.ndarray) -> float:
    unit = features.unit_embeddings
    if unit is None or not mask.any():
        return np.nan
    first_of_prompt = np.unique(features.prompt_of_output, return_index=True)[1]
    return embedding.vendi_score(unit[first_of_prompt[mask]])


def _within_embedding(field: str) -> RatioMetric:
    def values(features: Features) -> np.ndarray:
        return np.nan_to_num(getattr(features, field))

    return RatioMetric(values, lambda features: np.isfinite(getattr(features, field)).astype(float))


def _per_prompt_in_tercile(
    features: Features, outputs: np.ndarray, tercile: str | None
) -> np.ndarray:
    """Per-prompt count of the chosen outputs, limited to one popularity tercile if given."""
    if tercile is not None:
        outputs = outputs & (
            np.array(features.tercile_of_prompt)[features.prompt_of_output] == tercile
        )
    return features.per_prompt(outputs.astype(float))


def _probe_outputs(tercile: str | None = None) -> Callable[[Features], np.ndarray]:
    def outputs(features: Features) -> np.ndarray:
        return _per_prompt_in_tercile(features, features.is_probe, tercile)

    return outputs


def _accuracy(tercile: str | None = None) -> RatioMetric:
    def correct(features: Features) -> np.ndarray:
        return _per_prompt_in_tercile(features, features.correct, tercile)

    return RatioMetric(correct, _probe_outputs(tercile))


_HEAD, _TAIL = _accuracy("head"), _accuracy("tail")


def _tail_gap(features: Features, masks: np.ndarray) -> np.ndarray:
    return _HEAD.evaluate(features, masks) - _TAIL.evaluate(features, masks)


def _tail_gap_support(features: Features) -> np.ndarray:
    return _HEAD.support(features) | _TAIL.support(features)


_CONFIDENT_INACCURACY = RatioMetric(
    lambda f: f.per_prompt((f.is_probe & ~f.correct & ~f.hedged).astype(float)),
    lambda f: f.per_prompt((f.is_probe & ~f.correct).astype(float)),
)
_TAIL_VOCABULARY = RatioMetric(
    lambda f: f.per_prompt(f.vocabulary[:, 1]),
    lambda f: f.per_prompt(f.vocabulary[:, 0]),
    empty=0.0,
)
_MEAN_ZIPF = RatioMetric(
    lambda f: f.per_prompt(f.vocabulary[:, 3]), lambda f: f.per_prompt(f.vocabulary[:, 2])
)
_REPETITION = RatioMetric(
    lambda f: f.per_prompt(f.repetition), lambda f: f.per_prompt(np.ones(len(f.texts)))
)


def _expected_types(rare_only: bool) -> Evaluate:
    def evaluate(features: Features, masks: np.ndarray) -> np.ndarray:
        counts = (features.word_types.T @ masks.T.astype(float)).T
        return vocabulary.rarefied_types(counts, features.rare_types if rare_only else None)

    return evaluate


_TOKENS = RatioMetric(
    lambda f: f.per_prompt(f.table.lengths.astype(float)),
    lambda f: f.per_prompt(np.ones(len(f.texts))),
)


def _matched(metric: Metric) -> Metric:
    """``metric`` on every output cut to the common window (see :mod:`evaluators.length`);
    undefined when the batch was built without a window."""

    def evaluate(features: Features, masks: np.ndarray) -> np.ndarray:
        if features.windowed is None:
            return np.full(len(masks), np.nan)
        return metric.evaluate(features.windowed, masks)

    def support(features: Features) -> np.ndarray:
        if features.windowed is None or metric.support is None:
            return _all_prompts(features)
        return metric.support(features.windowed)

    return Metric(
        key=f"{metric.key}_matched",
        label=f"{metric.label} (equal length)",
        description=f"{metric.description}; on each output's first L tokens, L shared with the "
        "run compared (Liu et al., 2022)",
        higher_is_worse=metric.higher_is_worse,
        bounds=metric.bounds,
        evaluate=evaluate,
        support=support,
        length_matched=True,
        uses_embeddings=metric.uses_embeddings,
    )


# Metrics whose raw value moves with the outputs' length alone (see evaluators.length).
LENGTH_SENSITIVE = (
    *(f"distinct_{n}" for n in range(1, lexical.MAX_ORDER + 1)),
    *("rep_4", "compression_ratio", "self_bleu", "tail_types", "types_per_1k"),
    *("embedding_diversity_within", "embedding_diversity_across", "vendi_within", "vendi_across"),
)


def _ratio_metric(ratio: RatioMetric, **fields) -> Metric:
    return Metric(
        evaluate=ratio.evaluate, support=ratio.support, per_prompt=ratio.per_prompt, **fields
    )


_UNIT = (0.0, 1.0)

METRICS: dict[str, Metric] = {
    metric.key: metric
    for metric in [
        *(
            Metric(
                key=f"distinct_{n}",
                label=f"Distinct-{n}",
                description=f"unique {n}-grams / total {n}-grams over the batch (Li et al., 2016)",
                higher_is_worse=False,
                bounds=_UNIT,
                evaluate=_distinct(n),
                support=_all_prompts,
                per_prompt=_distinct_per_prompt(n),
            )
            for n in range(1, lexical.MAX_ORDER + 1)
        ),
        _ratio_metric(
            _REPETITION,
            key="rep_4",
            label="Repetition",
            description="mean within-output seq-rep-4 (Welleck et al., 2019)",
            higher_is_worse=True,
            bounds=_UNIT,
        ),
        Metric(
            key="phrase_repetition",
            label="Phrase repetition",
            description="share of outputs holding a 4+-token phrase shared by >= 10% of outputs",
            higher_is_worse=True,
            bounds=_UNIT,
            evaluate=_each(_phrase_repetition),
            support=_all_prompts,
        ),
        Metric(
            key="compression_ratio",
            label="Compression ratio",
            description="raw bytes / gzip bytes of the batch (Shaib et al., 2024)",
            higher_is_worse=True,
            bounds=(0.0, None),
            evaluate=_each(_compression_ratio),
            support=_all_prompts,
        ),
        Metric(
            key="self_bleu",
            label="Self-BLEU",
            description="mean BLEU-4 of each output against all others (Zhu et al., 2018)",
            higher_is_worse=True,
            bounds=_UNIT,
            evaluate=_each(_self_bleu),
            support=_all_prompts,
            per_prompt=_self_bleu_per_prompt,
        ),
        _ratio_metric(
            _within_embedding("within_distance"),
            key="embedding_diversity_within",
            label="Embedding diversity",
            description="mean pairwise cosine distance among a prompt's samples, averaged over "
            "the open prompts (all prompts when there are none: a probe's samples should agree)",
            higher_is_worse=False,
            bounds=(0.0, 2.0),
            uses_embeddings=True,
        ),
        Metric(
            key="embedding_diversity_across",
            label="Embedding diversity across",
            description="mean cosine distance between outputs of different prompts",
            higher_is_worse=False,
            bounds=(0.0, 2.0),
            evaluate=_embedding_across,
            support=_has_embeddings,
            uses_embeddings=True,
        ),
        _ratio_metric(
            _within_embedding("within_vendi"),
            key="vendi_within",
            label="Vendi (within prompt)",
            description="Vendi score of a prompt's samples, averaged over the open prompts, or all "
            "prompts when there are none (Friedman & Dieng, 2023)",
            higher_is_worse=False,
            bounds=(1.0, None),
            uses_embeddings=True,
        ),
        Metric(
            key="vendi_across",
            label="Vendi (across prompts)",
            description="Vendi score of the first sample of every prompt (Friedman & Dieng, 2023)",
            higher_is_worse=False,
            bounds=(1.0, None),
            evaluate=_each(_vendi_across),
            support=_has_embeddings,
            uses_embeddings=True,
        ),
        _ratio_metric(
            _accuracy(),
            key="rare_entity_accuracy",
            label="Rare-entity accuracy",
            description="share of probe answers holding a gold alias",
            higher_is_worse=False,
            bounds=_UNIT,
        ),
        _ratio_metric(
            _HEAD,
            key="accuracy_head",
            label="Accuracy head",
            description="accuracy on the most popular third of probes",
            higher_is_worse=False,
            bounds=_UNIT,
        ),
        _ratio_metric(
            _accuracy("torso"),
            key="accuracy_torso",
            label="Accuracy torso",
            description="accuracy on the middle third of probes by popularity",
            higher_is_worse=False,
            bounds=_UNIT,
        ),
        _ratio_metric(
            _TAIL,
            key="accuracy_tail",
            label="Accuracy tail",
            description="accuracy on the least popular third of probes",
            higher_is_worse=False,
            bounds=_UNIT,
        ),
        Metric(
            key="tail_gap",
            label="Tail gap",
            description="head accuracy - tail accuracy",
            higher_is_worse=True,
            bounds=(-1.0, 1.0),
            evaluate=_tail_gap,
            support=_tail_gap_support,
        ),
        _ratio_metric(
            _CONFIDENT_INACCURACY,
            key="confident_inaccuracy",
            label="Confident inaccuracy",
            description="share of wrong probe answers with no hedge or abstention",
            higher_is_worse=True,
            bounds=_UNIT,
        ),
        _ratio_metric(
            _TAIL_VOCABULARY,
            key="tail_vocabulary",
            label="Tail vocabulary",
            description=f"share of word tokens with Zipf frequency < {vocabulary.RARE_ZIPF}",
            higher_is_worse=False,
            bounds=_UNIT,
        ),
        Metric(
            key="tail_types",
            label="Tail types",
            description=f"expected distinct rare word types (Zipf < {vocabulary.RARE_ZIPF}) in a "
            f"random {vocabulary.RAREFACTION_TOKENS:,} word tokens: exact rarefaction (Hurlbert, "
            "1971)",
            higher_is_worse=False,
            bounds=(0.0, float(vocabulary.RAREFACTION_TOKENS)),
            evaluate=_expected_types(rare_only=True),
            support=_all_prompts,
        ),
        Metric(
            key="types_per_1k",
            label="Types per 1k",
            description=f"expected distinct word types in a random "
            f"{vocabulary.RAREFACTION_TOKENS:,} word tokens: exact rarefaction (Hurlbert, 1971)",
            higher_is_worse=False,
            bounds=(0.0, float(vocabulary.RAREFACTION_TOKENS)),
            evaluate=_expected_types(rare_only=False),
            support=_all_prompts,
        ),
        _ratio_metric(
            _TOKENS,
            key="tokens_per_output",
            label="Tokens per output",
            description="mean tokens per output: context for the length-sensitive metrics, "
            "neither better nor worse",
            higher_is_worse=False,
            bounds=(0.0, None),
            warning_sign=False,
        ),
        _ratio_metric(
            _MEAN_ZIPF,
            key="mean_zipf",
            label="Mean zipf",
            description="mean Zipf frequency of content-word tokens",
            higher_is_worse=True,
            bounds=(0.0, 8.0),
        ),
        Metric(
            key="blandness_index",
            label="Blandness index",
            description="0: as varied as the baseline, 100: degenerate text; the mean position "
            "of its components between the baseline's value and degenerate text's",
            higher_is_worse=True,
            bounds=(0.0, 100.0),
            components=blandness.COMPONENTS,
            combine=blandness.blandness_index,
            baseline_relative=True,
        ),
    ]
}
METRICS.update({f"{key}_matched": _matched(METRICS[key]) for key in LENGTH_SENSITIVE})
METRICS["blandness_index"] = METRICS.pop("blandness_index")
METRIC_KEYS: tuple[str, ...] = tuple(METRICS)
