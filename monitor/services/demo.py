"""First start: the default prompt set and a demo endpoint, so a new install shows data at once."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction

import evaluators
from monitor.models import Endpoint, PromptSet
from monitor.services.prompts import add_version, parse_prompt_file

DEFAULT_PROMPT_SET_NAME = "Tailwatch default"
DEFAULT_PROMPT_FILES = ("open_prompts.jsonl", "probes.jsonl")


def default_prompt_set() -> PromptSet:
    """The shipped open-ended prompts and factual probes, as a prompt set (created once)."""
    prompt_set, created = PromptSet.objects.get_or_create(
        name=DEFAULT_PROMPT_SET_NAME,
        defaults={
            "description": "Open-ended prompts and long-tail factual probes shipped with "
            "Tailwatch (evaluators/data; rebuilt by scripts/build_probe_set.py)."
        },
    )
    if created or not prompt_set.versions.exists():
        data_dir = Path(evaluators.__file__).parent / "data"
        rows = []
        for name in DEFAULT_PROMPT_FILES:
            rows += parse_prompt_file(name, (data_dir / name).read_bytes())
        add_version(prompt_set, rows, " + ".join(DEFAULT_PROMPT_FILES))
    return prompt_set


@transaction.atomic
def seed_demo() -> Endpoint | None:
    """On an empty database, register the built-in demo model; otherwise do nothing."""
    if Endpoint.objects.exists() or PromptSet.objects.exists():
        return None
    return Endpoint.objects.create(
        name="demo-model",
        model_family="demo",
        version_label="v1",
        base_url=f"{settings.SITE_URL}/demo/v1",
        model="tailwatch-demo",
        prompt_set=default_prompt_set(),
        samples_per_prompt=3,
        interval_minutes=15,
        concurrency=8,
        timeout_seconds=10,
    )
