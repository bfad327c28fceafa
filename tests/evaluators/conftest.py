"""Shared fixtures: batches from a synthetic model, a deterministic bag-of-words encoder, and
the real embedding model loaded once per session."""

from collections.abc import Callable

import numpy as np
import pytest
from synthetic_text import BagOfWordsEncoder, zipf_texts

from evaluators import Batch
from evaluators.embedding import SentenceTransformerEncoder

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


@pytest.fixture(scope="session")
def real_encoder() -> SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 from the bundled package, loaded once for the session."""
    encoder = SentenceTransformerEncoder()
    encoder.encode(["warm up"])
    return encoder
