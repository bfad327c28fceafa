"""Measure the shipped prose and its recursive-training chain with Tailwatch's own metrics.

Prints distinct-2 and tail vocabulary for independent human draws and for the chain's
generations, then compare()'s deltas and Holm-adjusted p-values for pairs of runs that
should raise no alarm (two human draws, also of different lengths and after truncation)
and for the chain's first steps, which should.

Usage: python scripts/measure_prose.py [SEED]  (default 0; 100 prompts x 5 samples x 30 words)
"""

import sys
import time

import evaluators
from evaluators import Batch
from lab import prose

REPORTED = ("distinct_1", "distinct_2", "self_bleu", "compression_ratio")


def describe(label: str, rows: list[dict]) -> None:
    """One line: distinct-2 and tail vocabulary of a run."""
    report = evaluators.score(Batch.from_rows(rows), embed=False)
    values = report.values()
    print(f"{label:<28} {values['distinct_2']:.4f}  {values['tail_vocabulary']:.4f}")


def contrast(label: str, baseline: list[dict], candidate: list[dict]) -> None:
    """compare() over every metric (the alert policy's test); print the reported ones."""
    result = evaluators.compare(Batch.from_rows(baseline), Batch.from_rows(candidate), embed=False)
    flagged = sorted(key for key, comparison in result.items() if comparison.significant)
    cells = "  ".join(
        f"{key} {result[key].delta:+.4f} (p={result[key].p_value:.3f})" for key in REPORTED
    )
    print(f"{label}\n    {cells}\n    significant: {', '.join(flagged) or 'none'}")


def main(seed: int) -> None:
    started = time.perf_counter()
    generations = prose.chain(seed, 4)
    print(f"chain of 4 generations built in {time.perf_counter() - started:.2f} s")
    print(f"{'run':<28} {'distinct-2':<7} tail_vocabulary")
    for other in range(seed + 1, seed + 5):
        describe(f"human draw, seed {other}", prose.draw(other))
    for generation, rows in enumerate(generations):
        describe(f"chain generation {generation}", rows)
    first, second = prose.draw(seed + 1), prose.draw(seed + 2)
    long = prose.draw(seed + 2, words=60)
    contrast("two human draws, 30 vs 30 words", first, second)
    contrast("two human draws, 30 vs 60 words", first, long)
    contrast("two human draws, 30 vs 60 cut to 30", first, prose.truncate(long, 30))
    for generation in (1, 2):
        contrast(f"chain generation 0 vs {generation}", generations[0], generations[generation])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
