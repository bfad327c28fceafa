import itertools

import numpy as np
import pytest
from synthetic_text import zipf_texts

from evaluators import METRIC_KEYS, Batch, compare, score

# Collapse ladder: (vocabulary size, number of distinct sentences the model still writes).
LADDER = [(30_000, 2_000), (22_000, 200), (17_000, 50), (1_000, 5)]
FALLING = [
    "distinct_1",
    "distinct_2",
    "distinct_3",
    "distinct_4",
    "embedding_diversity_within",
    "embedding_diversity_across",
    "vendi_within",
    "vendi_across",
    "tail_vocabulary",
]
RISING = ["rep_4", "self_bleu", "compression_ratio", "mean_zipf", "blandness_index"]


def collapsing_batch(vocabulary_size: int, sentences: int, seed: int = 0) -> Batch:
    """12 prompts x 4 outputs, each output four sentences drawn from a fixed pool."""
    rng = np.random.default_rng(seed)
    pool = zipf_texts(rng, vocabulary_size, sentences, 10)
    rows = [
        {"prompt_id": f"p{i // 4}", "text": ". ".join(pool[j] for j in rng.choice(sentences, 4))}
        for i in range(48)
    ]
    return Batch.from_rows(rows)


def test_metrics_move_monotonically_as_the_model_collapses(real_encoder):
    reports = [score(collapsing_batch(*level), encoder=real_encoder).values() for level in LADDER]
    for key in FALLING:
        values = [report[key] for report in reports]
        assert all(a > b for a, b in itertools.pairwise(values)), (key, values)
    for key in RISING:
        values = [report[key] for report in reports]
        assert all(a < b for a, b in itertools.pairwise(values)), (key, values)


def test_compare_flags_a_collapsed_run(make_batch, fake_encoder):
    healthy = make_batch(seed=1, prompts=20)
    collapsed = make_batch(seed=2, prompts=20, vocabulary_size=300)
    result = compare(healthy, collapsed, encoder=fake_encoder, seed=3)
    assert set(result) <= set(METRIC_KEYS)
    for key in ("distinct_1", "distinct_2", "tail_vocabulary", "mean_zipf", "blandness_index"):
        assert result[key].significant, key
        assert result[key].p_value < 0.05
    assert result["distinct_2"].delta < 0 < result["mean_zipf"].delta
    assert result["distinct_2"].candidate == pytest.approx(
        score(collapsed, encoder=fake_encoder).values()["distinct_2"]
    )


def test_compare_is_reproducible_and_checks_keys(make_batch):
    a, b = make_batch(seed=4, prompts=10), make_batch(seed=5, prompts=10)
    first = compare(a, b, ["distinct_2", "self_bleu"], embed=False, n_permutations=200, seed=9)
    assert first == compare(
        a, b, ["distinct_2", "self_bleu"], embed=False, n_permutations=200, seed=9
    )
    with pytest.raises(ValueError, match="unknown"):
        compare(a, b, ["distinct_9"], embed=False)


def test_unpaired_runs_over_different_prompts_compare(make_batch):
    a = make_batch(seed=6, prompts=10)
    b = Batch.from_rows(
        [{"prompt_id": f"other-{i}", "text": t} for i, t in enumerate(make_batch(seed=7).texts)]
    )
    result = compare(a, b, ["distinct_1", "rep_4"], embed=False, n_permutations=200)
    assert set(result) == {"distinct_1", "rep_4"}


def test_two_draws_from_one_model_are_rarely_flagged(make_batch, fake_encoder):
    flagged_trials = 0
    for trial in range(100):
        first = make_batch(seed=2 * trial, prompts=12, samples=3, length=20)
        second = make_batch(seed=2 * trial + 1, prompts=12, samples=3, length=20)
        result = compare(first, second, encoder=fake_encoder, seed=trial, n_permutations=400)
        flagged_trials += any(change.significant for change in result.values())
    assert flagged_trials <= 5


def test_the_blandness_index_alone_is_not_flagged_between_two_draws(make_batch, fake_encoder):
    # The index is measured from the baseline run, so the baseline side scores exactly 0 and is
    # clipped there: the test must still not mistake two draws of one model for a change.
    p_values = [
        compare(
            make_batch(seed=2 * trial, prompts=12, samples=3, length=20),
            make_batch(seed=2 * trial + 1, prompts=12, samples=3, length=20),
            ["blandness_index"],
            encoder=fake_encoder,
            seed=trial,
            n_permutations=200,
        )["blandness_index"].p_value
        for trial in range(40)
    ]
    assert sum(p < 0.05 for p in p_values) <= 5
    assert sorted(p_values)[20] > 0.2  # the median is nowhere near significance
