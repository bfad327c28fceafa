"""The evaluators' kept speed-ups: Self-BLEU against NLTK, the encoder against a bare encode.

Both on a synthetic batch of 2,500 outputs (500 prompts x 5 samples, ~80 words: words drawn with
Zipfian probabilities from wordfreq's 30,000 commonest English words, so no data download is
needed), which the other evaluator benchmarks share (``synthetic_batch``).
"""

import os
import sys
from pathlib import Path

import numpy as np
import wordfreq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from benchmarks.targets import Target, at_least, at_most, timed
from evaluators import Batch
from evaluators.bleu import SelfBleu
from evaluators.embedding import SentenceTransformerEncoder, load_sentence_transformer
from evaluators.lexical import NgramTable
from evaluators.tokenize import tokenize

PROMPTS, SAMPLES, WORDS = 500, 5, 80
VOCABULARY_SIZE = 30_000
NLTK_SUBSET = 150
# The encoder's speed per text is the same at any size; 1,000 keeps make bench within 10 minutes.
EMBEDDED_OUTPUTS = 1_000


def synthetic_batch(
    seed: int = 0, prompts: int = PROMPTS, vocabulary_size: int = VOCABULARY_SIZE
) -> Batch:
    """``prompts`` x ``SAMPLES`` outputs of about ``WORDS`` words, drawn with Zipfian
    probabilities from the ``vocabulary_size`` commonest English words."""
    vocabulary = wordfreq.top_n_list("en", vocabulary_size)
    weights = 1 / np.arange(1, len(vocabulary) + 1)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(WORDS // 2, WORDS * 3 // 2, size=prompts * SAMPLES)
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


def bench_self_bleu(token_lists: list[list[str]]) -> Target:
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
    print(f"Self-BLEU on {len(subset)} outputs: max |difference| from NLTK {difference:.1e}")
    return at_most(
        f"Self-BLEU, {len(subset)} outputs (equal to NLTK within {difference:.0e})",
        fast_seconds,
        nltk_seconds,
        0.01,
        "s",
        "NLTK sentence_bleu",
    )


def bench_embeddings(texts: tuple[str, ...]) -> Target:
    encoder = SentenceTransformerEncoder()
    model = load_sentence_transformer(encoder.model_name_or_path)
    model.encode(list(texts[:32]))
    _, bare_seconds = timed(lambda: model.encode(list(texts), batch_size=encoder.batch_size))
    _, ours_seconds = timed(lambda: encoder.encode(texts))
    return at_least(
        f"embeddings, {len(texts):,} outputs",
        len(texts) / ours_seconds,
        len(texts) / bare_seconds,
        0.9,
        "texts/s",
        "bare SentenceTransformer.encode",
    )


def targets() -> list[Target]:
    texts = synthetic_batch().texts
    return [
        bench_self_bleu([tokenize(text) for text in texts]),
        bench_embeddings(texts[:EMBEDDED_OUTPUTS]),
    ]
