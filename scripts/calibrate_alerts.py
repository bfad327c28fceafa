"""Measure the alert policy: how early it flags collapse, and how often it cries wolf.

On the prose that ships with the project (``lab/prose.py``), for the default policy
(``evaluators.policy.DEFAULT_POLICY``, the rules every new endpoint starts with and the CLI gate):

* power: along the recursive-training chain (generation 0 is human text, generation g a
  word-trigram model trained on generation g - 1's text), the share of chain seeds for which
  generation g fires any rule, and distinct-2 and tail types in particular; also generation 2
  cut to half its length against full-length generation 0;
* false alarms: the share of pairs of independent draws of the human text (the same prompts,
  other passages) that fire any rule, with both answers 30 words long, and with the second 60.

Every run is 100 prompts x 5 samples x 30 words, as a user's batch would be, scored end to end
from the rows' text. Usage::

    python scripts/calibrate_alerts.py [--seeds 20] [--pairs 100] [--embeddings]

Without ``--embeddings`` the embedding-diversity rule is left out (MiniLM on a CPU takes
minutes per hundred pairs); the others are Holm-adjusted among themselves.
"""

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluators import Batch
from evaluators.policy import DEFAULT_POLICY
from lab import prose

GENERATIONS = 4
WATCHED_IN_TABLE = ("distinct_2_matched", "tail_types_matched")


def regressed(baseline: list[dict], candidate: list[dict], embed: bool, seed: int) -> list[str]:
    """The watched metrics the default policy finds regressed from baseline to candidate."""
    result = DEFAULT_POLICY.compare(
        Batch.from_rows(baseline), Batch.from_rows(candidate), embed=embed, seed=seed
    )
    return DEFAULT_POLICY.regressed(result)


def share(verdicts: list[list[str]], metric: str | None = None) -> str:
    """The share of verdicts that flag ``metric`` (any metric when None), as "k/n (p%)"."""
    hits = sum(bool(v) if metric is None else metric in v for v in verdicts)
    return f"{hits}/{len(verdicts)} ({100 * hits / len(verdicts):.0f}%)"


def row(label: str, verdicts: list[list[str]]) -> str:
    cells = [share(verdicts), *(share(verdicts, key) for key in WATCHED_IN_TABLE)]
    return f"| {label} | " + " | ".join(cells) + " |"


def power(seeds: int, embed: bool) -> list[str]:
    """Rows of the table for each chain generation and for generation 2 cut to half length."""
    by_generation: dict[str, list[list[str]]] = {}
    for seed in range(seeds):
        chain = prose.chain(seed, GENERATIONS, ids=prose.prompt_ids(seed))
        for generation in range(1, GENERATIONS + 1):
            verdict = regressed(chain[0], chain[generation], embed, seed)
            by_generation.setdefault(f"generation {generation} vs 0", []).append(verdict)
        halved = regressed(chain[0], prose.halve(chain[2]), embed, seed)
        by_generation.setdefault("generation 2 at half length vs 0", []).append(halved)
    return [row(label, verdicts) for label, verdicts in by_generation.items()]


def false_alarms(pairs: int, embed: bool, words: int) -> str:
    """The row for ``pairs`` seeded pairs of independent human draws, 30 words against
    ``words``."""
    verdicts = []
    for pair in range(pairs):
        ids = prose.prompt_ids(10_000 + pair)
        first = prose.draw(2 * pair, ids=ids)
        second = prose.draw(2 * pair + 1, ids=ids, words=words)
        verdicts.append(regressed(first, second, embed, pair))
    return row(f"independent draws, 30 vs {words} words", verdicts)


def timed(label: str, measure: Callable[[], object]) -> object:
    started = time.monotonic()
    result = measure()
    print(f"{label}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="chain seeds (power)")
    parser.add_argument("--pairs", type=int, default=100, help="pairs of draws (false alarms)")
    parser.add_argument("--embeddings", action="store_true", help="also the embedding rule")
    args = parser.parse_args(argv)
    print("| comparison | any default rule | distinct-2 (matched) | tail types (matched) |")
    print("|---|---:|---:|---:|")
    for line in timed("power", lambda: power(args.seeds, args.embeddings)):
        print(line)
    for words in (30, 60):
        print(timed(f"draws {words}", lambda w=words: false_alarms(args.pairs, args.embeddings, w)))


if __name__ == "__main__":
    main()
