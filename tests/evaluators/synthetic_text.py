"""Synthetic "models" for the evaluator tests: texts drawn from a chosen vocabulary, and a
deterministic stand-in for a sentence encoder."""

import zlib

import numpy as np
import wordfreq

ENGLISH = wordfreq.top_n_list("en", 30_000)


class BagOfWordsEncoder:
    """Deterministic stand-in for a sentence encoder: word counts hashed into 128 buckets,
    plus a constant so that an empty text still has a direction."""

    def encode(self, texts):
        rows = np.full((len(texts), 128), 0.05)
        for row, text in enumerate(texts):
            for word in text.split():
                rows[row, zlib.crc32(word.encode()) % 128] += 1.0
        return rows


def zipf_texts(
    rng: np.random.Generator, vocabulary_size: int, count: int, length: int
) -> list[str]:
    """Texts drawn word by word from the ``vocabulary_size`` commonest English words with
    Zipfian (1/rank) probabilities: a smaller vocabulary is a more collapsed model."""
    weights = 1 / np.arange(1, vocabulary_size + 1)
    words = rng.choice(vocabulary_size, size=(count, length), p=weights / weights.sum())
    return [" ".join(ENGLISH[index] for index in row) for row in words]
