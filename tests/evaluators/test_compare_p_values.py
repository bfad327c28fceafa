"""compare()'s p-values: permutation tests pinned to the values of recomputing every metric on
every permutation, and the jackknife test of the statistics with no cheap permutation."""

import numpy as np
import pytest
from synthetic_text import BagOfWordsEncoder, zipf_texts

from evaluators import Batch, compare

# The p-value of each metric compared on its own (so not Holm-adjusted), 300 permutations of seed
# 5, as computed when every permuted side was measured separately and 50 permutations at a time.
PINNED = {
    "paired": {
        "distinct_1": 0.083333,
        "distinct_2": 0.833333,
        "distinct_3": 0.666667,
        "distinct_4": 1.0,
        "rep_4": 1.0,
        "phrase_repetition": 1.0,
        "embedding_diversity_within": 0.4,
        "embedding_diversity_across": 0.16129,
        "vendi_within": 0.30303,
        "vendi_across": 0.625,
        "tail_vocabulary": 0.003322,
        "tail_types": 0.003322,
        "types_per_1k": 0.126582,
        "tokens_per_output": 1.0,
        "mean_zipf": 0.019934,
        "distinct_1_matched": 0.083333,
        "distinct_2_matched": 0.833333,
        "distinct_3_matched": 0.833333,
        "distinct_4_matched": 1.0,
        "rep_4_matched": 1.0,
        "tail_types_matched": 0.003322,
        "types_per_1k_matched": 0.125,
        "embedding_diversity_within_matched": 0.4,
        "embedding_diversity_across_matched": 0.16129,
        "vendi_within_matched": 0.30303,
        "vendi_across_matched": 0.625,
        "blandness_index": 0.003322,
    },
    "unpaired": {
        "distinct_1": 0.238095,
        "distinct_2": 0.833333,
        "distinct_3": 0.714286,
        "distinct_4": 1.0,
        "rep_4": 1.0,
        "phrase_repetition": 1.0,
        "embedding_diversity_within": 0.37037,
        "embedding_diversity_across": 0.588235,
        "vendi_within": 0.625,
        "vendi_across": 0.833333,
        "tail_vocabulary": 0.003322,
        "tail_types": 0.003322,
        "types_per_1k": 0.12987,
        "tokens_per_output": 1.0,
        "mean_zipf": 0.016611,
        "distinct_1_matched": 0.238095,
        "distinct_2_matched": 0.833333,
        "distinct_3_matched": 0.769231,
        "distinct_4_matched": 1.0,
        "rep_4_matched": 1.0,
        "tail_types_matched": 0.003322,
        "types_per_1k_matched": 0.133333,
        "embedding_diversity_within_matched": 0.526316,
        "embedding_diversity_across_matched": 0.555556,
        "vendi_within_matched": 0.666667,
        "vendi_across_matched": 0.833333,
        "blandness_index": 0.003322,
    },
}


def pinned_pair(design: str) -> tuple[Batch, Batch]:
    """20 prompts x 3 samples of 40 words; the candidate from a smaller vocabulary."""

    def batch(seed: int, vocabulary_size: int, prefix: str) -> Batch:
        texts = zipf_texts(np.random.default_rng(seed), vocabulary_size, 60, 40)
        return Batch.from_rows(
            [{"prompt_id": f"{prefix}{i // 3}", "text": text} for i, text in enumerate(texts)]
        )

    if design == "paired":
        return batch(11, 20_000, "p"), batch(12, 12_000, "p")
    return batch(13, 20_000, "p"), batch(14, 12_000, "q")


@pytest.mark.parametrize("design", ["paired", "unpaired"])
def test_permutation_p_values_are_unchanged(design):
    baseline, candidate = pinned_pair(design)
    for key, pinned in PINNED[design].items():
        result = compare(
            baseline, candidate, [key], encoder=BagOfWordsEncoder(), seed=5, n_permutations=300
        )
        assert result[key].p_value == pytest.approx(pinned, abs=1e-6), key


def test_self_bleu_and_compression_are_tested_beyond_the_permutations_resolution(make_batch):
    # A permutation p-value is never below 1 / (1 + permutations); the jackknife test's is.
    healthy = make_batch(seed=1, prompts=20)
    collapsed = make_batch(seed=2, prompts=20, vocabulary_size=300)
    keys = ["compression_ratio", "self_bleu", "compression_ratio_matched", "self_bleu_matched"]
    result = compare(healthy, collapsed, keys, embed=False, n_permutations=50)
    for key in keys:
        assert result[key].significant and result[key].p_value < 1 / 51 / 10, key
    assert result["self_bleu"].delta > 0 and result["compression_ratio"].delta > 0
