"""What the model-collapse research predicts, on a short chain of the small lab.

Shumailov et al. (2024): trained recursively on its own samples, a model loses the tails of
the distribution first (rare facts, rare words, variety) while what is common survives, and
keeping some original data in every generation slows the decay. Training on text sampled the way
production pipelines sample it (temperature 0.7 and nucleus sampling, Holtzman et al., 2020) cuts
the tails off every generation's training text, so variety and rare words go faster, and the
samples of one prompt come to mean the same thing.
"""

import dataclasses

import pytest

from lab import Arm, evaluate

LAST = 5


@pytest.fixture(scope="module")
def reports(small_lab):
    return {arm: (evaluate(small_lab, arm, 0), evaluate(small_lab, arm, LAST)) for arm in Arm}


def test_the_pure_arm_loses_its_tails_first(reports):
    first, last = reports[Arm.PURE]
    tail_drop = first.accuracy["tail"] - last.accuracy["tail"]
    head_drop = first.accuracy["head"] - last.accuracy["head"]
    assert first.accuracy["tail"] > 0.8, "generation 0 knows most rare facts"
    assert tail_drop > 0.5
    assert head_drop < tail_drop / 4, "popular facts survive"
    assert last.tail_vocabulary < first.tail_vocabulary
    assert last.distinct_2 < 0.9 * first.distinct_2
    assert last.perplexity > 2 * first.perplexity


def test_keeping_original_data_slows_the_decay(reports):
    pure, anchored = reports[Arm.PURE][1], reports[Arm.ANCHORED][1]
    shared_start = [dataclasses.replace(reports[arm][0], arm=Arm.PURE) for arm in Arm]
    assert all(start == shared_start[0] for start in shared_start), "arms share generation 0"
    assert anchored.accuracy["tail"] > pure.accuracy["tail"] + 0.1
    assert anchored.accuracy["torso"] > pure.accuracy["torso"]
    assert anchored.perplexity < 0.8 * pure.perplexity


def test_truncated_sampling_loses_variety_and_rare_words_faster(reports):
    first, last = reports[Arm.TRUNCATED]
    assert last.distinct_2 < 0.6 * first.distinct_2
    assert last.tail_types < first.tail_types
    pure = reports[Arm.PURE][1]
    assert last.distinct_2 < pure.distinct_2
    assert last.tail_types < pure.tail_types


def test_truncated_sampling_narrows_what_the_samples_of_a_prompt_mean(small_lab, real_encoder):
    first, last = (evaluate(small_lab, Arm.TRUNCATED, g, real_encoder) for g in (0, LAST))
    assert last.embedding_diversity < 0.8 * first.embedding_diversity
