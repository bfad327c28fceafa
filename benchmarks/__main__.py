"""``make bench``: every speed target, each against a reference measured in the same run, in one
table. Each module below measures its own targets (``targets()``) and says what it does as it goes;
the table comes last. ``python -m benchmarks bench_pages`` runs only the modules named."""

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.targets import render

MODULES = (
    "bench_evaluators",
    "bench_lexical",
    "bench_score",
    "bench_compare",
    "bench_pages",
    "bench_sampling",
    "bench_scan",
)


def main() -> None:
    parser = argparse.ArgumentParser(description="Every speed target against its reference.")
    parser.add_argument("modules", nargs="*", help=f"only these of {', '.join(MODULES)}")
    chosen = parser.parse_args().modules or MODULES
    if unknown := set(chosen) - set(MODULES):
        parser.error(f"no benchmark module {', '.join(sorted(unknown))}; there are {MODULES}")
    started = time.perf_counter()
    targets = []
    for name in chosen:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}: {module.__doc__.splitlines()[0]}", flush=True)
        targets += module.targets()
    print(f"\n{os.cpu_count()} cores; measured in {time.perf_counter() - started:.0f} s\n")
    print(render(targets))


if __name__ == "__main__":
    main()
