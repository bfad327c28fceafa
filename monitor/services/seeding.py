"""What a new install starts with: the prompt sets built from the shipped prompt files and, on
an empty database, the collapse lab's endpoints, so the first page already shows data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import evaluators
from lab import Arm, model_id
from monitor.models import Endpoint, PromptSet
from monitor.services.endpoints import save_endpoint
from monitor.services.prompts import add_version, parse_prompt_file

DEFAULT_PROMPT_SET_NAME = "Tailwatch default"
LAB_PROMPT_SET_NAME = "Collapse lab probes"
DEFAULT_PROMPT_FILES = ("open_prompts.jsonl", "probes.jsonl")
# The lab endpoints sample every 8th shipped prompt: the same spread of kinds and popularity, in
# a run short enough to repeat every few minutes on a laptop.
LAB_EVERY_NTH_PROMPT = 8
# The lab generations registered, in both arms: enough to show a trend, few enough that all ten
# endpoints finish their first runs within a few minutes.
LAB_GENERATIONS = (0, 2, 4, 6, 8)
LATER_GENERATIONS_DELAY = timedelta(seconds=90)


def _shipped_prompt_set(name: str, every_nth: int = 1) -> PromptSet:
    """A prompt set built from the shipped prompt files (created once, then left alone)."""
    prompt_set, _ = PromptSet.objects.get_or_create(
        name=name,
        defaults={
            "description": "Open-ended prompts and long-tail factual probes shipped with "
            "Tailwatch (evaluators/data, rebuilt by scripts/build_probe_set.py)"
            + (f"; every {every_nth}th of them." if every_nth > 1 else ".")
        },
    )
    if not prompt_set.versions.exists():
        data_dir = Path(evaluators.__file__).parent / "data"
        rows = []
        for file_name in DEFAULT_PROMPT_FILES:
            rows += parse_prompt_file(file_name, (data_dir / file_name).read_bytes())[::every_nth]
        add_version(prompt_set, rows, " + ".join(DEFAULT_PROMPT_FILES))
    return prompt_set


def default_prompt_set() -> PromptSet:
    return _shipped_prompt_set(DEFAULT_PROMPT_SET_NAME)


@transaction.atomic
def seed_lab_endpoints() -> list[Endpoint]:
    """On an empty database, register the collapse lab's generations (``lab``), served
    by Tailwatch itself at ``/lab/v1``, as versions of two model families; otherwise do nothing.

    The ``lab-pure`` family is trained on its own output generation after generation and
    collapses; ``lab-anchored`` keeps some original text in every generation and holds.
    """
    if Endpoint.objects.exists() or PromptSet.objects.exists():
        return []
    default_prompt_set()
    lab_prompts = _shipped_prompt_set(LAB_PROMPT_SET_NAME, LAB_EVERY_NTH_PROMPT)
    now = timezone.now()
    endpoints = []
    for arm in Arm:
        first_generation = None
        for generation in LAB_GENERATIONS:
            endpoint = save_endpoint(
                Endpoint(
                    name=model_id(arm, generation),
                    model_family=f"lab-{arm}",
                    version_label=f"g{generation}",
                    base_url=f"{settings.SITE_URL}/lab/v1",
                    model=model_id(arm, generation),
                    prompt_set=lab_prompts,
                    samples_per_prompt=3,
                    interval_minutes=30,
                    concurrency=4,
                    # A generation's first request trains it and those before it: seconds.
                    timeout_seconds=60,
                    # Later generations are compared with generation 0 of their arm, which runs
                    # first, so the overview shows each generation's losses from the start.
                    baseline_endpoint=first_generation,
                    next_run_at=None if first_generation is None else now + LATER_GENERATIONS_DELAY,
                )
            )
            first_generation = first_generation or endpoint
            endpoints.append(endpoint)
    return endpoints
