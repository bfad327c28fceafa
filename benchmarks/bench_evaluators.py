"""Benchmark the evaluators on a 2,500-output batch (500 prompts x 5 samples, ~80 words).

Prints, all measured in this run:
  * Self-BLEU: the shared-count implementation against NLTK's per-sentence reference on a
    subset the reference can finish, and the time for the whole batch;
  * tokens per second for distinct-n (n = 1..4) and repetition (rep-4, phrase repetition);
  * embedding throughput of the evaluator's encoder against a bare
    ``SentenceTransformer.encode`` of the same texts;
  * the time of a full ``score()``.

The batch is synthetic: words drawn with Zipfian probabilities from wordfreq's 30,000
commonest English words, so no data download is needed. Run with ``make bench``.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np
import wordfreq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from evaluators import Batch, score
from evaluators.bleu import SelfBleu
from evaluators.embedding import SentenceTransformerEncoder, load_sentence_transformer
from evaluators.lexical import (
    NgramTable,
    distinct_counts,
    phrase_repetition_share,
    repetition_per_output,
)
from evaluators.tokenize import tokenize

PROMPTS, SAMPLES, WORDS = 500, 5, 80
NLTK_SUBSET = 150


def synthetic_batch(seed: int = 0) -> Batch:
    vocabulary = wordfreq.top_n_list("en", 30_000)
    weights = 1 / np.arange(1, len(vocabulary) + 1)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(WORDS // 2, WORDS * 3 // 2, size=PROMPTS * SAMPLES)
    rows = [
        {
            "prompt_id": f"p{i // SAMPLES}",
            "text": " ".join(
                vocabulary[j]
                for j in rng.choice(len(vocabulary), length, p=weights / weights.sum())
            )
            + ".",
        }
        for i, length in enumerate(lengths)
    ]
    return Batch.from_rows(rows)


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def bench_self_bleu(token_lists: list[list[str]]) -> None:
    subset = token_lists[:NLTK_SUBSET]
    smoothing = SmoothingFunction().method1
    reference, nltk_seconds = timed(
        lambda: [
            sentence_bleu(subset[:i] + subset[i + 1 :], subset[i], smoothing_function=smoothing)
            for i in range(len(subset))
        ]
    )
    fast, fast_seconds = timed(lambda: SelfBleu(NgramTable.build(subset)).scores())
    difference = float(np.max(np.abs(np.array(reference) - fast)))
    print(
        f"Self-BLEU on {len(subset)} outputs: NLTK {nltk_seconds:.2f} s, shared counts "
        f"{fast_seconds * 1000:.1f} ms, speed-up x{nltk_seconds / fast_seconds:,.0f}, "
        f"max |difference| {difference:.1e}"
    )
    _, full_seconds = timed(lambda: SelfBleu(NgramTable.build(token_lists)).scores().mean())
    print(f"Self-BLEU on all {len(token_lists)} outputs: {full_seconds:.2f} s")


def bench_lexical(texts: tuple[str, ...], groups: np.ndarray) -> None:
    token_lists, tokenize_seconds = timed(lambda: [tokenize(text) for text in texts])
    tokens = sum(map(len, token_lists))
    table, table_seconds = timed(lambda: NgramTable.build(token_lists))
    everything = np.ones((1, groups.max() + 1), dtype=bool)
    _, distinct_seconds = timed(
        lambda: [distinct_counts(table, n, groups, everything) for n in range(1, 5)]
    )
    _, repetition_seconds = timed(
        lambda: (
            repetition_per_output(table),
            phrase_repetition_share(table, np.ones(len(texts), dtype=bool)),
        )
    )
    counting = tokenize_seconds + table_seconds
    print(
        f"{tokens:,} tokens: tokenise {tokenize_seconds:.2f} s, n-gram table {table_seconds:.2f} s"
    )
    print(
        f"distinct-1..4: {tokens / (counting + distinct_seconds):,.0f} tokens/s end to end "
        f"({tokens / distinct_seconds:,.0f} tokens/s from the table)"
    )
    print(
        f"rep-4 + phrase repetition: {tokens / (counting + repetition_seconds):,.0f} tokens/s "
        f"end to end ({tokens / repetition_seconds:,.0f} tokens/s from the table)"
    )


def bench_embeddings(texts: tuple[str, ...]) -> None:
    encoder = SentenceTransformerEncoder()
    model = load_sentence_transformer(encoder.model_name_or_path)
    model.encode(list(texts[:32]))
    _, bare_seconds = timed(lambda: model.encode(list(texts), batch_size=encoder.batch_size))
    _, ours_seconds = timed(lambda: encoder.encode(texts))
    print(
        f"embeddings of {len(texts)} outputs: bare SentenceTransformer.encode "
        f"{len(texts) / bare_seconds:.0f} texts/s, evaluator encoder "
        f"{len(texts) / ours_seconds:.0f} texts/s"
    )


def main() -> None:
    batch = synthetic_batch()
    texts = batch.texts
    groups = np.repeat(np.arange(PROMPTS), SAMPLES)
    print(
        f"batch: {PROMPTS} prompts x {SAMPLES} samples = {len(texts)} outputs, "
        f"cores: {os.cpu_count()}"
    )
    bench_self_bleu([tokenize(text) for text in texts])
    bench_lexical(texts, groups)
    bench_embeddings(texts)
    _, lexical_seconds = timed(lambda: score(batch, embed=False))
    print(
        f"score() without embeddings (all lexical, vocabulary metrics and 20 jackknife "
        f"replicates): {lexical_seconds:.2f} s"
    )
    embeddings = SentenceTransformerEncoder().encode(texts)
    _, embedded_seconds = timed(lambda: score(Batch(batch.prompts, embeddings)))
    print(f"score() with precomputed embeddings: {embedded_seconds:.2f} s")


if __name__ == "__main__":
    main()
