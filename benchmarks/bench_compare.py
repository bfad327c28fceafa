"""compare() with every metric tested against scoring the two runs it compares.

Two runs of 100 prompts x 5 samples from the synthetic source of ``bench_evaluators`` (no
embeddings): two independent draws from one source, the usual comparison, where sequential
stopping ends most permutation tests early; and a changed candidate (a vocabulary of the 8,000
commonest words instead of 30,000), where every changed metric runs all 1,000 permutations.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.bench_evaluators import SAMPLES, VOCABULARY_SIZE, synthetic_batch
from benchmarks.targets import Target, at_most, best_of
from evaluators import Batch, compare, score

PROMPTS = 100
CHANGED_VOCABULARY = 8_000


def run(seed: int, vocabulary_size: int = VOCABULARY_SIZE) -> Batch:
    return synthetic_batch(seed, PROMPTS, vocabulary_size)


def bench_compare(name: str, baseline: Batch, candidate: Batch) -> Target:
    scoring = best_of(lambda: [score(batch, embed=False) for batch in (baseline, candidate)], 2)
    comparing = best_of(lambda: compare(baseline, candidate, embed=False), 2)
    print(f"{name}: compare {comparing:.2f} s, score of both runs {scoring:.2f} s")
    return at_most(
        f"compare() of two {PROMPTS}x{SAMPLES} runs, every metric tested, {name}",
        comparing,
        scoring,
        1.5,
        "s",
        "score() of both runs",
    )


def targets() -> list[Target]:
    baseline = run(1)
    score(baseline, embed=False)  # loads wordfreq's tables outside the timings
    return [
        bench_compare("two draws of one source", baseline, run(2)),
        bench_compare("a changed candidate", baseline, run(3, CHANGED_VOCABULARY)),
    ]
