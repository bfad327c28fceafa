"""Shared fixtures: batches from a synthetic model and a deterministic bag-of-words encoder."""

from collections.abc import Callable

import numpy as np
import pytest
from synthetic_text import BagOfWordsEncoder, zipf_texts

from evaluators import Batch

BatchMaker = Callable[..., Batch]


@pytest.fixture
def make_batch() -> BatchMaker:
    """Build a batch of ``prompts`` x ``samples`` Zipfian texts from one seeded generator."""

    def make(
        seed: int = 0,
        prompts: int = 20,
        samples: int = 3,
        length: int = 30,
        vocabulary_size: int = 20_000,
    ) -> Batch:
        rng = np.random.default_rng(seed)
        texts = zipf_texts(rng, vocabulary_size, prompts * samples, length)
        rows = [{"prompt_id": f"p{i // samples}", "text": text} for i, text in enumerate(texts)]
        return Batch.from_rows(rows)

    return make


@pytest.fixture
def fake_encoder() -> BagOfWordsEncoder:
    return BagOfWordsEncoder()
