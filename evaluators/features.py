"""Sufficient statistics of a batch of outputs, from which every metric is computed.

A batch is reduced once to per-output and per-prompt counts (:class:`Features`): tokens and
n-gram tables, BLEU statistics, probe correctness, vocabulary counts, and embedding reductions.
Every metric in :mod:`evaluators.metrics` is a function of these and a prompt selection mask,
so resampling (jackknife replicates, permutations) re-aggregates counts instead of re-reading
text.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse

from evaluators import embedding, length, lexical, probes, vocabulary
from evaluators.bleu import SelfBleu
from evaluators.embedding import Encoder
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
    word_types: sparse.csr_matrix
    rare_types: np.ndarray
    window: int | None = None
    windowed: "Features | None" = None

    @property
    def n_prompts(self) -> int:
        return len(self.prompt_ids)

    @classmethod
    def build(
        cls,
        prompts: Sequence[PromptOutputs],
        embeddings: np.ndarray | None,
        window: int | None = None,
        window_encoder: Encoder | None = None,
    ) -> "Features":
        """Tokenise, count and embed-reduce the outputs of ``prompts``; ``embeddings`` holds one
        row per output in prompt order, or is None to skip the embedding metrics. With a
        ``window``, also those of the outputs cut to it (:attr:`windowed`), embedded by
        ``window_encoder`` if given and the full outputs are."""
        if window is not None:
            windowed = cls._cut(prompts, window, window_encoder, embeddings)
            return replace(cls.build(prompts, embeddings), window=window, windowed=windowed)
        texts = tuple(text for prompt in prompts for text in prompt.texts)
        prompt_of_output = np.repeat(
            np.arange(len(prompts)), [len(prompt.texts) for prompt in prompts]
        )
        token_lists = [tokenize(text) for text in texts]
        table = lexical.NgramTable.build(token_lists)
        within_bleu = SelfBleu(table, prompt_of_output).scores()
        is_probe, correct, hedged = _probe_answers(
            texts, [prompts[p].gold for p in prompt_of_output]
        )
        unit = None if embeddings is None else embedding.normalize_rows(embeddings)
        if unit is not None and len(unit) != len(texts):
            raise ValueError(f"got {len(unit)} embeddings for {len(texts)} outputs")
        within_distance, within_vendi = _within_prompt_embedding(
            unit, prompt_of_output, _variety_prompts(prompts)
        )
        word_types, rare_types = vocabulary.type_counts(token_lists, prompt_of_output, len(prompts))
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
            word_types=word_types,
            rare_types=rare_types,
        )

    @classmethod
    def _cut(
        cls,
        prompts: Sequence[PromptOutputs],
        window: int,
        encoder: Encoder | None,
        embeddings: np.ndarray | None,
    ) -> "Features":
        """The statistics of every output cut to its first ``window`` tokens, embedded with
        ``encoder`` when the full outputs are (``embeddings``)."""
        cut = [
            replace(prompt, texts=tuple(length.cut(text, window) for text in prompt.texts))
            for prompt in prompts
        ]
        if encoder is None or embeddings is None:
            return cls.build(cut, None)
        full_texts = [text for prompt in prompts for text in prompt.texts]
        cut_texts = [text for prompt in cut for text in prompt.texts]
        return cls.build(cut, _reuse_or_encode(cut_texts, full_texts, embeddings, encoder))

    def per_prompt(self, per_output: np.ndarray) -> np.ndarray:
        """Sum a per-output quantity within each prompt."""
        return np.bincount(self.prompt_of_output, weights=per_output, minlength=self.n_prompts)

    def ngrams_per_prompt(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The distinct and the total n-grams of each prompt's outputs taken on their own: one
        sort of the batch's (prompt, n-gram) pairs, where each prompt as a selection of its own
        would cost a product of every shared n-gram with every prompt, quadratic in the batch."""
        order = self.table.order(n)
        prompt_of_entry = self.prompt_of_output[order.rows]
        total = np.bincount(prompt_of_entry, weights=order.counts, minlength=self.n_prompts)
        pairs = np.sort(prompt_of_entry * order.n_ids + order.cols)
        first_of_pair = np.ones(len(pairs), dtype=bool)
        first_of_pair[1:] = pairs[1:] != pairs[:-1]
        distinct = np.bincount(pairs[first_of_pair] // order.n_ids, minlength=self.n_prompts)
        return distinct, total

    def kept_outputs(self, prompt_mask: np.ndarray) -> np.ndarray:
        """The outputs of the selected prompts."""
        return prompt_mask[self.prompt_of_output]


def _reuse_or_encode(
    texts: Sequence[str], known_texts: Sequence[str], known: np.ndarray, encoder: Encoder
) -> np.ndarray:
    """One embedding row per text of ``texts``: the row of ``known`` where the text is one of
    ``known_texts`` (every output no longer than the window is its own cut), else encoded,
    each distinct text once."""
    row_of_text = {text: row for row, text in enumerate(known_texts)}
    new_texts = list(dict.fromkeys(text for text in texts if text not in row_of_text))
    rows = np.asarray(known)
    if new_texts:
        row_of_text.update({text: len(rows) + row for row, text in enumerate(new_texts)})
        rows = np.vstack([rows, encoder.encode(new_texts)])
    return rows[[row_of_text[text] for text in texts]]


def _probe_answers(
    texts: Sequence[str], gold: Sequence[tuple[str, ...] | None]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output: whether it answers a factual probe, correctly, and with a hedge."""
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
    return is_probe, correct, hedged


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


def _variety_prompts(prompts: Sequence[PromptOutputs]) -> np.ndarray:
    """The prompts whose samples' spread of meaning is variety: the open prompts, when there
    are any. A factual probe's samples should agree; when they stop agreeing the model is
    forgetting the fact, which the accuracy signs measure, and counting that spread as variety
    would hide a collapse of the open answers behind it."""
    is_open = np.array([prompt.gold is None for prompt in prompts], dtype=bool)
    return is_open if is_open.any() else ~is_open


def _within_prompt_embedding(
    unit: np.ndarray | None, prompt_of_output: np.ndarray, measured: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per prompt: the mean pairwise cosine distance and the Vendi score of its samples, NaN
    for a prompt not ``measured`` or with fewer than two samples."""
    distance, vendi = np.full(len(measured), np.nan), np.full(len(measured), np.nan)
    if unit is None:
        return distance, vendi
    # The outputs of each prompt, in their order, as a slice of one stable sort: selecting them
    # prompt by prompt with a comparison over all outputs would be quadratic in the batch.
    by_prompt = np.argsort(prompt_of_output, kind="stable")
    sizes = np.bincount(prompt_of_output, minlength=len(measured))
    ends = np.cumsum(sizes)
    for prompt in np.flatnonzero(measured):
        rows = unit[by_prompt[ends[prompt] - sizes[prompt] : ends[prompt]]]
        if len(rows) >= 2:
            distance[prompt] = embedding.mean_pairwise_cosine_distance(rows)
            vendi[prompt] = embedding.vendi_score(rows)
    return distance, vendi
