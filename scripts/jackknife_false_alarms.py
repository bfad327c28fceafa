"""Measure the false-alarm rate of compare()'s jackknife test (Self-BLEU and the compression
ratio, raw and length-matched, which have no cheap permutation).

Over ``--pairs`` seeded pairs of independent draws of the prose that ships with the project
(``lab/prose.py``: the same prompts, other passages, a paired design; and other prompts, an
unpaired one), each metric is compared on its own (so its p-value is not Holm-adjusted) and
flagged when p < 0.05. Two draws of one source differ by chance alone, so each metric's share of
flagged pairs estimates the test's false-alarm rate, which should be near 0.05; printed with its
95% Wilson interval. Usage::

    python scripts/jackknife_false_alarms.py [--pairs 200] [--prompts 50]
"""

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluators import Batch, compare
from evaluators.comparison import ALPHA, JACKKNIFE_TESTED
from lab import prose


def wilson(flagged: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    share = flagged / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials**2))
    return centre - half / (1 + z * z / trials), centre + half / (1 + z * z / trials)


def pair(trial: int, prompts: int, paired: bool) -> tuple[Batch, Batch]:
    ids = prose.prompt_ids(trial, prompts) if paired else None
    first = prose.draw(2 * trial, prompts, ids=ids)
    second = prose.draw(2 * trial + 1, prompts, ids=ids)
    return Batch.from_rows(first), Batch.from_rows(second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--prompts", type=int, default=50)
    options = parser.parse_args()
    keys = sorted(JACKKNIFE_TESTED)
    started = time.perf_counter()
    for paired in (True, False):
        flagged = dict.fromkeys(keys, 0)
        for trial in range(options.pairs):
            baseline, candidate = pair(trial, options.prompts, paired)
            for key in keys:
                result = compare(baseline, candidate, [key], embed=False, seed=trial)
                flagged[key] += result[key].p_value < ALPHA
        design = "paired (same prompts)" if paired else "unpaired (other prompts)"
        for key in keys:
            low, high = wilson(flagged[key], options.pairs)
            print(
                f"{design}, {key}: {flagged[key]}/{options.pairs} flagged = "
                f"{flagged[key] / options.pairs:.3f} (95% CI {low:.3f}-{high:.3f})",
                flush=True,
            )
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
