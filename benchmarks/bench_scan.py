"""Benchmark the provenance scan: a corpus of ``DOCUMENTS`` documents of ``WORDS`` words against
an index of ``OUTPUTS`` stored outputs.

Throughput (documents/s) is measured against bare datasketch MinHash of the same documents
(same shingles, hash function and permutations): the least any MinHash scan must do. What the
scan adds is reading and parsing the JSONL, the LSH queries against the index and the corpus
itself, the exact-duplicate set, the reservoir sample, and writing the filtered corpus and the
manifest. Peak memory is the scan process's peak resident memory above the same process before
the scan (code and word frequencies loaded, as in a worker), against the size of the corpus on
disk: a scan that loaded the corpus would need more.
The warning signs (on a 1,000-document sample) and the index load are included in the scan.

The scan runs in a fresh process, so that its peak memory is its own, and the reference right
after it in the same process. Sizes are the environment
variables BENCH_SCAN_DOCUMENTS and BENCH_SCAN_OUTPUTS (100,000 and 50,000 by default).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.targets import Target, at_least, at_most, render

DOCUMENTS = int(os.environ.get("BENCH_SCAN_DOCUMENTS", 100_000))
OUTPUTS = int(os.environ.get("BENCH_SCAN_OUTPUTS", 50_000))
WORDS = 100
COPIED_SHARE = 0.1
ENDPOINTS, PROMPTS = 5, 100
THROUGHPUT_GOAL = 0.5  # of bare MinHash's documents/s
MEMORY_GOAL = 2.0  # × the corpus on disk


def texts(count: int, seed: int) -> list[str]:
    from wordfreq import top_n_list

    pool = top_n_list("en", 20_000)
    rng = random.Random(seed)
    return [" ".join(rng.choices(pool, k=WORDS)) for _ in range(count)]


def store_outputs(outputs: list[str]) -> float:
    """``outputs`` as the samples of finished runs, signed as each run finishes; returns the
    seconds the signing took."""
    from monitor.models import Endpoint, PromptSet, Run, RunStatus, Sample
    from monitor.services import provenance_index
    from monitor.services.prompts import PromptRow, add_version

    prompt_set = PromptSet.objects.create(name="bench-scan")
    version = add_version(
        prompt_set, [PromptRow(f"p{i}", "open", f"Topic {i}.") for i in range(PROMPTS)], "bench"
    )
    prompts = list(version.prompts.all())
    per_run = -(-len(outputs) // ENDPOINTS)
    seconds = 0.0
    for number in range(ENDPOINTS):
        endpoint = Endpoint.objects.create(
            name=f"bench-scan-{number}", model_family="bench", base_url="http://x/v1", model="m"
        )
        run = Run.objects.create(
            endpoint=endpoint,
            prompt_set_version=version,
            trigger="manual",
            samples_per_prompt=1,
            status=RunStatus.SUCCEEDED,
        )
        chunk = outputs[number * per_run : (number + 1) * per_run]
        Sample.objects.bulk_create(
            [
                Sample(run=run, prompt=prompts[i % PROMPTS], sample_index=i // PROMPTS, text=text)
                for i, text in enumerate(chunk)
            ],
            batch_size=2000,
        )
        started = time.perf_counter()
        provenance_index.index_run(run)
        seconds += time.perf_counter() - started
    return seconds


def write_corpus(path: Path, outputs: list[str]) -> None:
    """``DOCUMENTS`` JSONL documents, ``COPIED_SHARE`` of them stored outputs with a word
    swapped and re-cased."""
    rng = random.Random(3)
    copied = int(DOCUMENTS * COPIED_SHARE)
    documents = texts(DOCUMENTS - copied, seed=2)
    for text in rng.sample(outputs, copied):
        words = text.split()
        words[rng.randrange(WORDS)] = "zeppelin"
        documents.append(" ".join(words).capitalize() + ".")
    rng.shuffle(documents)
    with open(path, "w") as out:
        for document in documents:
            out.write(json.dumps({"text": document}) + "\n")


def bare_minhash_seconds(path: Path) -> float:
    """Reference: the signing alone, datasketch MinHash of every document's word shingles."""
    from monitor.services.provenance_index import signature, words

    with open(path) as stream:
        documents = [json.loads(line)["text"] for line in stream]
    started = time.perf_counter()
    for document in documents:
        signature(words(document))
    return time.perf_counter() - started


def scan_in_child(path: Path) -> dict:
    """Run the scan in a fresh process (this file with ``--scan``): seconds, peak memory."""
    output = subprocess.run(
        [sys.executable, __file__, "--scan", str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def reset_peak_memory() -> int:
    """Start the process's peak resident memory (VmHWM) afresh from what it holds now, and
    return that: loading the word frequencies peaks well above what stays resident."""
    Path("/proc/self/clear_refs").write_text("5")
    return status_bytes("VmRSS")


def child_scan(path: Path) -> None:
    """The scan, on the parent's database (its DATABASE_URL is inherited)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
    import django

    django.setup()
    from evaluators.vocabulary import zipf
    from monitor.services import scans

    # A worker has the code and the word frequencies loaded already: not the scan's memory.
    zipf("warm")
    before = reset_peak_memory()
    started = time.perf_counter()
    report = scans.scan_file(
        path, filtered=path.with_suffix(".kept"), manifest=path.with_suffix(".manifest")
    )
    seconds = time.perf_counter() - started
    after = status_bytes("VmHWM")
    # The reference right after, in the same process: a loaded machine slows both alike.
    reference = bare_minhash_seconds(path)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "reference_seconds": reference,
                "peak_bytes": after - before,
                "documents": report["documents"],
                "matched": report["model_outputs"]["count"],
                "load_seconds": report["index"]["load_seconds"],
            }
        )
    )


def targets() -> list[Target]:
    from benchmarks.bench_sampling import setup_django

    setup_django()
    from monitor.models import Endpoint, PromptSet

    outputs = texts(OUTPUTS, seed=1)
    directory = Path(tempfile.mkdtemp(prefix="tailwatch-bench-scan-"))
    path = directory / "corpus.jsonl"
    try:
        signing = store_outputs(outputs)
        write_corpus(path, outputs)
        size = path.stat().st_size
        scan = scan_in_child(path)
        reference = scan["reference_seconds"]
    finally:
        Endpoint.objects.filter(name__startswith="bench-scan-").delete()
        PromptSet.objects.filter(name="bench-scan").delete()
        shutil.rmtree(directory)
    print(
        f"index: {OUTPUTS} outputs signed in {signing:.1f} s as their runs finished, loaded in "
        f"{scan['load_seconds']:.1f} s; corpus: {DOCUMENTS} documents of {WORDS} words, "
        f"{size / 2**20:.0f} MiB; scan {scan['seconds']:.1f} s, found {scan['matched']} "
        f"copies of {int(DOCUMENTS * COPIED_SHARE)}; bare MinHash {reference:.1f} s"
    )
    return [
        at_least(
            f"scan throughput, {DOCUMENTS} documents against {OUTPUTS} outputs",
            scan["documents"] / scan["seconds"],
            DOCUMENTS / reference,
            THROUGHPUT_GOAL,
            "docs/s",
            "bare datasketch MinHash of the documents",
        ),
        at_most(
            "scan peak memory",
            scan["peak_bytes"] / 2**20,
            size / 2**20,
            MEMORY_GOAL,
            "MiB",
            "the corpus on disk",
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--scan"]:
        child_scan(Path(sys.argv[2]))
    else:
        print(render(targets()))
