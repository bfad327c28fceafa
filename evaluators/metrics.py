"""The registry of warning-sign metrics, each evaluated on any selection of prompts.

A batch is first reduced to per-output and per-prompt sufficient statistics
(:class:`Features`). Every metric is then a function of a boolean ``(selections, prompts)``
mask array, returning one value per selection (NaN where undefined). The full batch is one
selection; jackknife replicates and permutation halves are others, so confidence intervals
and two-sample tests re-aggregate counts instead of re-reading text.
"""

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from evaluators import embedding, lexical, probes, vocabulary
from evaluators.bleu import SelfBleu
from evaluators.tokenize import tokenize


@dataclass(frozen=True)
class PromptOutputs:
    """The k sampled outputs of one prompt and, for a factual probe, its gold aliases and the
    popularity of its entity."""

    prompt_id: str
    texts: tuple[str, ...]
    gold: tuple[str, ...] | None = None
    popularity: float | None = None


@dataclass(frozen=True)
class Features:
    """Sufficient statistics of a list of prompts' outputs for every metric."""

    prompt_ids: tuple[str, ...]
    prompt_of_output: np.ndarray
    texts: tuple[str, ...]
    table: lexical.NgramTable
    corpus_bleu: SelfBleu
    within_prompt_bleu: np.ndarray
    repetition: np.ndarray
    vocabulary: np.ndarray
    is_probe: np.ndarray
    correct: np.ndarray
    hedged: np.ndarray
    tercile_of_prompt: tuple[str, ...]
    unit_embeddings: np.ndarray | None
    within_distance: np.ndarray
    within_vendi: np.ndarray

    @property
    def n_prompts(self) -> int:
        return len(self.prompt_ids)

    @classmethod
    def build(cls, prompts: Sequence[PromptOutputs], embeddings: np.ndarray | None) -> "Features":
        """Tokenise, count and embed-reduce the outputs of ``prompts``; ``embeddings`` holds one
        row per output in prompt order, or is None to skip the embedding metrics."""
        texts = tuple(text for prompt in prompts for text in prompt.texts)
        prompt_of_output = np.repeat(
            np.arange(len(prompts)), [len(prompt.texts) for prompt in prompts]
        )
        token_lists = [tokenize(text) for text in texts]
        table = lexical.NgramTable.build(token_lists)
        within_bleu = SelfBleu(table, prompt_of_output).scores()
        gold = [prompts[p].gold for p in prompt_of_output]
        is_probe = np.array([aliases is not None for aliases in gold], dtype=bool)
        correct = np.array(
            [
                aliases is not None and probes.is_correct(text, aliases)
                for text, aliases in zip(texts, gold, strict=True)
            ],
            dtype=bool,
        )
        hedged = np.array(
            [probe and probes.is_hedged(text) for text, probe in zip(texts, is_probe, strict=True)],
            dtype=bool,
        )
        unit = None if embeddings is None else embedding.normalize_rows(embeddings)
        if unit is not None and len(unit) != len(texts):
            raise ValueError(f"got {len(unit)} embeddings for {len(texts)} outputs")
        within_distance, within_vendi = _within_prompt_embedding(
            unit, prompt_of_output, len(prompts)
        )
        return cls(
            prompt_ids=tuple(prompt.prompt_id for prompt in prompts),
            prompt_of_output=prompt_of_output,
            texts=texts,
            table=table,
            corpus_bleu=SelfBleu(table),
            within_prompt_bleu=within_bleu,
            repetition=lexical.repetition_per_output(table),
            vocabulary=np.array(
                [vocabulary.vocabulary_counts(tokens) for tokens in token_lists], dtype=float
            ).reshape(-1, 4),
            is_probe=is_probe,
            correct=correct,
            hedged=hedged,
            tercile_of_prompt=_terciles(prompts),
            unit_embeddings=unit,
            within_distance=within_distance,
            within_vendi=within_vendi,
        )

    def per_prompt(self, per_output: np.ndarray) -> np.ndarray:
        """Sum a per-output quantity within each prompt."""
        return np.bincount(self.prompt_of_output, weights=per_output, minlength=self.n_prompts)

    def kept_outputs(self, prompt_mask: np.ndarray) -> np.ndarray:
        """The outputs of the selected prompts."""
        return prompt_mask[self.prompt_of_output]


def _terciles(prompts: Sequence[PromptOutputs]) -> tuple[str, ...]:
    # Terciles are ranked over distinct prompt ids, so the two copies of a probe in a pooled
    # comparison always share a tercile.
    popularity = {
        prompt.prompt_id: prompt.popularity
        for prompt in prompts
        if prompt.gold is not None and prompt.popularity is not None
    }
    labels = dict(
        zip(popularity, probes.popularity_terciles(list(popularity.values())), strict=True)
    )
    return tuple(labels.get(prompt.prompt_id, "") for prompt in prompts)


def _within_prompt_embedding(
    unit: np.ndarray | None, prompt_of_output: np.ndarray, n_prompts: int
) -> tuple[np.ndarray, np.ndarray]:
    distance, vendi = np.full(n_prompts, np.nan), np.full(n_prompts, np.nan)
    if unit is None:
        return distance, vendi
    for prompt in range(n_prompts):
        rows = unit[prompt_of_output == prompt]
        if len(rows) >= 2:
            distance[prompt] = embedding.mean_pairwise_cosine_distance(rows)
            vendi[prompt] = embedding.vendi_score(rows)
    return distance, vendi


Evaluate = Callable[[Features, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """One warning sign: how to evaluate it on prompt selections, which prompts it draws on,
    its natural range, and whether higher values mean blander output."""

    key: str
    description: str
    evaluate: Evaluate
    support: Callable[[Features], np.ndarray]
    bounds: tuple[float | None, float | None]
    higher_is_blander: bool
    per_prompt: Callable[[Features], np.ndarray] | None = None


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
        return self.evaluate(features, np.eye(features.n_prompts, dtype=bool))


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
    return lambda features: _distinct(n)(features, np.eye(features.n_prompts, dtype=bool))


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


def _ratio_metric(
    key: str, description: str, ratio: RatioMetric, bounds, higher_is_blander: bool
) -> Metric:
    return Metric(
        key, description, ratio.evaluate, ratio.support, bounds, higher_is_blander, ratio.per_prompt
    )


_UNIT = (0.0, 1.0)

METRICS: dict[str, Metric] = {
    metric.key: metric
    for metric in [
        *(
            Metric(
                f"distinct_{n}",
                f"unique {n}-grams / total {n}-grams over the batch (Li et al., 2016)",
                _distinct(n),
                _all_prompts,
                _UNIT,
                False,
                _distinct_per_prompt(n),
            )
            for n in range(1, lexical.MAX_ORDER + 1)
        ),
        _ratio_metric(
            "rep_4", "mean within-output seq-rep-4 (Welleck et al., 2019)", _REPETITION, _UNIT, True
        ),
        Metric(
            "phrase_repetition",
            "share of outputs holding a 4+-token phrase shared by >= 10% of outputs",
            _each(_phrase_repetition),
            _all_prompts,
            _UNIT,
            True,
        ),
        Metric(
            "compression_ratio",
            "raw bytes / gzip bytes of the batch (Shaib et al., 2024)",
            _each(_compression_ratio),
            _all_prompts,
            (0.0, None),
            True,
        ),
        Metric(
            "self_bleu",
            "mean BLEU-4 of each output against all others (Zhu et al., 2018)",
            _each(_self_bleu),
            _all_prompts,
            _UNIT,
            True,
            _self_bleu_per_prompt,
        ),
        _ratio_metric(
            "embedding_diversity_within",
            "mean pairwise cosine distance among a prompt's samples, averaged over prompts",
            _within_embedding("within_distance"),
            (0.0, 2.0),
            False,
        ),
        Metric(
            "embedding_diversity_across",
            "mean cosine distance between outputs of different prompts",
            _embedding_across,
            _has_embeddings,
            (0.0, 2.0),
            False,
        ),
        _ratio_metric(
            "vendi_within",
            "Vendi score of a prompt's samples, averaged over prompts (Friedman & Dieng, 2023)",
            _within_embedding("within_vendi"),
            (1.0, None),
            False,
        ),
        Metric(
            "vendi_across",
            "Vendi score of the first sample of every prompt (Friedman & Dieng, 2023)",
            _each(_vendi_across),
            _has_embeddings,
            (1.0, None),
            False,
        ),
        _ratio_metric(
            "rare_entity_accuracy",
            "share of probe answers holding a gold alias",
            _accuracy(),
            _UNIT,
            False,
        ),
        _ratio_metric(
            "accuracy_head", "accuracy on the most popular third of probes", _HEAD, _UNIT, False
        ),
        _ratio_metric(
            "accuracy_torso",
            "accuracy on the middle third of probes by popularity",
            _accuracy("torso"),
            _UNIT,
            False,
        ),
        _ratio_metric(
            "accuracy_tail", "accuracy on the least popular third of probes", _TAIL, _UNIT, False
        ),
        Metric(
            "tail_gap",
            "head accuracy - tail accuracy",
            _tail_gap,
            _tail_gap_support,
            (-1.0, 1.0),
            True,
        ),
        _ratio_metric(
            "confident_inaccuracy",
            "share of wrong probe answers with no hedge or abstention",
            _CONFIDENT_INACCURACY,
            _UNIT,
            True,
        ),
        _ratio_metric(
            "tail_vocabulary",
            f"share of word tokens with Zipf frequency < {vocabulary.RARE_ZIPF}",
            _TAIL_VOCABULARY,
            _UNIT,
            False,
        ),
        _ratio_metric(
            "mean_zipf", "mean Zipf frequency of content-word tokens", _MEAN_ZIPF, (0.0, 8.0), True
        ),
    ]
}
