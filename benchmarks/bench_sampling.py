"""Benchmark sampling: one run through the real sampling service against the fake model server.

The fake answers every request after a fixed latency, so a run of ``REQUESTS`` requests at
``CONCURRENCY`` in flight ideally takes ``REQUESTS × LATENCY / CONCURRENCY``: the target is the
run's wall time against that ideal. What it adds is the service's own cost (a database write per
sample, progress updates) and the network's (connections, and any stall per keep-alive request).

Uses the database of ``BENCH_DATABASE_URL`` when set (the page benchmark's), else a throwaway
SQLite file; the endpoint and run it creates are deleted afterwards.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.targets import Target, at_most, best_of, render

LATENCY = 0.2
CONCURRENCY = 16
PROMPTS, SAMPLES_PER_PROMPT = 32, 5
REQUESTS = PROMPTS * SAMPLES_PER_PROMPT


def setup_django() -> None:
    """Django on the page benchmark's database, or on a new SQLite file, unless already set up
    (by another benchmark of the same ``make bench``)."""
    from django.apps import apps

    if apps.ready:
        return
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        from benchmarks.bench_pages import setup_django as setup_postgres

        setup_postgres(url)
        return
    database = Path(tempfile.mkdtemp(prefix="tailwatch-bench-")) / "sampling.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def sample_one_run(url: str) -> None:
    """Create an endpoint on the fake at ``url`` and sample one run of it, as a worker does."""
    from monitor.models import Endpoint, PromptSet, Run, RunStatus, RunTrigger
    from monitor.services.endpoints import save_endpoint
    from monitor.services.prompts import PromptRow, add_version
    from monitor.services.sampling import sample_run

    prompt_set = PromptSet.objects.create(name="bench-sampling")
    rows = [PromptRow(f"p{i}", "open", f"Write about topic {i}.") for i in range(PROMPTS)]
    version = add_version(prompt_set, rows, "bench")
    endpoint = save_endpoint(
        Endpoint(
            name="bench-sampling",
            model_family="bench",
            version_label="v1",
            base_url=url,
            model="fake",
            prompt_set=prompt_set,
            samples_per_prompt=SAMPLES_PER_PROMPT,
            concurrency=CONCURRENCY,
            timeout_seconds=10,
        )
    )
    try:
        # start_run would also queue the run for a worker; here this process is the worker.
        run = Run.objects.create(
            endpoint=endpoint,
            prompt_set_version=version,
            trigger=RunTrigger.MANUAL,
            request_params=endpoint.request_params(),
            samples_per_prompt=SAMPLES_PER_PROMPT,
            samples_expected=REQUESTS,
        )
        run = sample_run(run.pk)
        assert run.status == RunStatus.SUCCEEDED, (run.status, run.error_summary)
        assert run.samples_succeeded == REQUESTS
    finally:
        endpoint.delete()
        prompt_set.delete()


def targets() -> list[Target]:
    setup_django()
    from django.test import override_settings

    from monitor.fake_llm import FakeBehaviour, FakeLLMServer

    ideal = REQUESTS * LATENCY / CONCURRENCY
    with (
        override_settings(TAILWATCH_ALLOW_PRIVATE_ENDPOINTS=True),
        FakeLLMServer(FakeBehaviour(latency=LATENCY, seed=0)) as fake,
    ):
        seconds = best_of(lambda: sample_one_run(fake.url))
    print(
        f"{REQUESTS} requests, {LATENCY * 1000:.0f} ms each, {CONCURRENCY} at a time: "
        f"{seconds:.2f} s (ideal {ideal:.2f} s)"
    )
    return [
        at_most(
            f"sampling, {REQUESTS} requests at concurrency {CONCURRENCY}, "
            f"{LATENCY * 1000:.0f} ms latency",
            seconds,
            ideal,
            1.1,
            "s",
            "requests × latency / concurrency",
        )
    ]


if __name__ == "__main__":
    print(render(targets()))
