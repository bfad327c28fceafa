"""Scoring a run: score() linear in the outputs, with embeddings within a minute and a gigabyte.

On the synthetic batch of ``bench_evaluators`` (2,500 outputs) and two of them side by side
(5,000). The embedding run is measured in a fresh process, so that its peak resident memory
(``ru_maxrss``) is that of loading the model and scoring, as a scoring worker does. The encoder
line is two tasks encoding at once, as in a scoring worker of concurrency 2: each with the
threads the worker gives it (its share of the cores) against each with two.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.bench_evaluators import synthetic_batch
from benchmarks.targets import Target, at_most, best_of
from evaluators import Batch, score
from evaluators.embedding import SentenceTransformerEncoder, share_of_cores

EMBEDDING_SECONDS = 60
PEAK_BYTES = 1 << 30
WORKER_CONCURRENCY = 2
ENCODED_PER_TASK = 250

# Run in a fresh process: score 2,500 outputs with embeddings (model loading included), then
# report the seconds and the peak resident memory (ru_maxrss is in KiB on Linux).
EMBEDDING_RUN = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from benchmarks.bench_evaluators import synthetic_batch
from evaluators import score
batch = synthetic_batch()
started = time.perf_counter()
score(batch)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "outputs": len(batch.texts)}))
"""


def doubled_batch() -> Batch:
    """Two synthetic batches of different seeds as one run of twice the outputs."""
    prompts = [
        replace(prompt, prompt_id=f"{seed}-{prompt.prompt_id}")
        for seed in (0, 1)
        for prompt in synthetic_batch(seed).prompts
    ]
    return Batch(tuple(prompts))


def bench_linear_scoring() -> Target:
    single, double = synthetic_batch(), doubled_batch()
    single_seconds = best_of(lambda: score(single, embed=False), 2)
    double_seconds = best_of(lambda: score(double, embed=False), 2)
    print(f"score(): {single_seconds:.1f} s for 2,500 outputs, {double_seconds:.1f} s for 5,000")
    return at_most(
        f"score(), {len(double.texts):,} outputs (no embeddings)",
        double_seconds,
        single_seconds,
        2.2,
        "s",
        f"score() of {len(single.texts):,}",
    )


def bench_scoring_with_embeddings() -> list[Target]:
    repository = str(Path(__file__).resolve().parents[1])
    finished = subprocess.run(
        [sys.executable, "-c", EMBEDDING_RUN, repository],
        capture_output=True,
        text=True,
        check=True,
    )
    run = json.loads(finished.stdout.splitlines()[-1])
    print(f"score() with embeddings: {run['seconds']:.1f} s, peak {run['peak_bytes'] >> 20} MiB")
    return [
        at_most(
            f"score() with embeddings, {run['outputs']:,} outputs",
            run["seconds"],
            EMBEDDING_SECONDS,
            1,
            "s",
            "fixed",
        ),
        at_most(
            "peak memory of that score() (model included)",
            run["peak_bytes"] / (1 << 20),
            PEAK_BYTES / (1 << 20),
            1,
            "MiB",
            "fixed 1 GiB",
        ),
    ]


def bench_encoder_threads() -> Target:
    texts = synthetic_batch().texts[: WORKER_CONCURRENCY * ENCODED_PER_TASK]
    shares = [
        texts[task * ENCODED_PER_TASK : (task + 1) * ENCODED_PER_TASK]
        for task in range(WORKER_CONCURRENCY)
    ]
    threads = share_of_cores(WORKER_CONCURRENCY)

    def tasks_at_once(encoder: SentenceTransformerEncoder) -> None:
        with ThreadPoolExecutor(WORKER_CONCURRENCY) as pool:
            list(pool.map(encoder.encode, shares))

    shared = SentenceTransformerEncoder(threads=threads)
    two = SentenceTransformerEncoder(threads=2)
    shared.encode(texts[:32])
    two_seconds = best_of(lambda: tasks_at_once(two), 2)
    shared_seconds = best_of(lambda: tasks_at_once(shared), 2)
    return at_most(
        f"encoder, {WORKER_CONCURRENCY} tasks at once, {threads} thread(s) each (their share)",
        shared_seconds,
        two_seconds,
        1,
        "s",
        "2 threads each",
    )


def targets() -> list[Target]:
    return [bench_linear_scoring(), *bench_scoring_with_embeddings(), bench_encoder_threads()]
