"""What a new install starts with: the prompt sets built from the shipped prompt files and, on
an empty database, the collapse lab's endpoints, so the first page already shows data: one of
them, the drifting endpoint, with hours of history and an alert firing.

The lab endpoints hold the lab's token (``TAILWATCH_LAB_TOKEN``), stored encrypted as any API
key; the generations they will ask for are queued for the worker to train.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import evaluators
from lab import MAX_GENERATION, Arm, Lab, drifting_model_id, model_id
from monitor.models import Endpoint, PromptSet
from monitor.services.backfill import backfill_history
from monitor.services.endpoints import save_endpoint
from monitor.services.prompts import add_version, parse_prompt_file
from monitor.services.served_lab import request_training, served_lab

DEFAULT_PROMPT_SET_NAME = "Tailwatch default"
LAB_PROMPT_SET_NAME = "Collapse lab probes"
# The drifting endpoint's prompts: every open prompt, where blandness shows, and every 16th probe.
DRIFTING_PROMPT_SET_NAME = "Collapse lab writing"
DRIFTING_EVERY_NTH_PROBE = 16
DEFAULT_PROMPT_FILES = ("open_prompts.jsonl", "probes.jsonl")
# The lab endpoints sample every 8th shipped prompt: the same spread of kinds and popularity, in
# a run short enough to repeat every few minutes on a laptop.
LAB_EVERY_NTH_PROMPT = 8
# The lab generations registered, in both arms: enough to show a trend, few enough that all ten
# endpoints finish their first runs within a few minutes.
LAB_GENERATIONS = (0, 2, 4, 6, 8)
LAB_ARMS = (Arm.PURE, Arm.ANCHORED)
LATER_GENERATIONS_DELAY = timedelta(seconds=90)
# The drifting endpoint serves the truncated arm's next generation at each run; its history is
# made at seeding time, one run every interval: enough runs for the blandness-creep rule's window
# (8) to see the trend and the charts to show hours of it, and no more: by generation 10 the arm
# has collapsed and its blandness index levels off, and each run costs seconds of seeding.
DRIFTING_ARM = Arm.TRUNCATED
DRIFTING_BACKFILLED_RUNS = 12
LAB_INTERVAL_MINUTES = 30


# How every lab endpoint samples. A generation not trained yet answers 503 with Retry-After
# until the worker has trained it; one that is trained answers at once.
_LAB_SAMPLING = {
    "samples_per_prompt": 3,
    "interval_minutes": LAB_INTERVAL_MINUTES,
    "concurrency": 4,
    "timeout_seconds": 60,
}


def _lab_base_url() -> str:
    return f"{settings.SITE_URL}/lab/v1"


def _save_lab_endpoint(endpoint: Endpoint) -> Endpoint:
    """Save a new endpoint of the lab this install serves, holding the lab's token."""
    endpoint.set_api_key(settings.TAILWATCH_LAB_TOKEN)
    return save_endpoint(endpoint)


def grant_lab_access() -> None:
    """Give every endpoint of the lab this install serves the lab's token as its API key (an
    endpoint seeded before the lab took a token, or since the token changed)."""
    for endpoint in Endpoint.objects.filter(base_url=_lab_base_url()):
        endpoint.api_key_env = ""
        endpoint.set_api_key(settings.TAILWATCH_LAB_TOKEN)
        endpoint.save(update_fields=["api_key_env", "api_key_encrypted", "updated_at"])


def _shipped_prompt_set(name: str, every_nth: int = 1, every_nth_probe: int = 0) -> PromptSet:
    """A prompt set built from the shipped prompt files (created once, then left alone): every
    ``every_nth`` prompt of each, or of the probes every ``every_nth_probe`` one when given."""
    every_nth_probe = every_nth_probe or every_nth
    prompt_set, _ = PromptSet.objects.get_or_create(
        name=name,
        defaults={
            "description": "Open-ended prompts and long-tail factual probes shipped with "
            "Tailwatch (evaluators/data, rebuilt by scripts/build_probe_set.py)"
            + (f"; every {every_nth}th open prompt" if every_nth > 1 else "")
            + (f"; every {every_nth_probe}th probe" if every_nth_probe > 1 else "")
            + "."
        },
    )
    if not prompt_set.versions.exists():
        data_dir = Path(evaluators.__file__).parent / "data"
        strides = (every_nth, every_nth_probe)
        rows = []
        for file_name, stride in zip(DEFAULT_PROMPT_FILES, strides, strict=True):
            rows += parse_prompt_file(file_name, (data_dir / file_name).read_bytes())[::stride]
        add_version(prompt_set, rows, " + ".join(DEFAULT_PROMPT_FILES))
    return prompt_set


def default_prompt_set() -> PromptSet:
    return _shipped_prompt_set(DEFAULT_PROMPT_SET_NAME)


@transaction.atomic
def seed_lab_endpoints() -> list[Endpoint]:
    """On an empty database, register the collapse lab's generations (``lab``), served
    by Tailwatch itself at ``/lab/v1``, as versions of two model families; otherwise do nothing.

    The ``lab-pure`` family is trained on its own output generation after generation and
    collapses; ``lab-anchored`` keeps some original text in every generation and holds. The
    drifting endpoint (``seed_drifting_endpoint``) comes with its history.
    """
    if Endpoint.objects.exists() or PromptSet.objects.exists():
        return []
    default_prompt_set()
    lab_prompts = _shipped_prompt_set(LAB_PROMPT_SET_NAME, LAB_EVERY_NTH_PROMPT)
    now = timezone.now()
    endpoints = []
    for arm in LAB_ARMS:
        first_generation = None
        for generation in LAB_GENERATIONS:
            endpoint = _save_lab_endpoint(
                Endpoint(
                    name=model_id(arm, generation),
                    model_family=f"lab-{arm}",
                    version_label=f"g{generation}",
                    base_url=_lab_base_url(),
                    model=model_id(arm, generation),
                    prompt_set=lab_prompts,
                    **_LAB_SAMPLING,
                    # Later generations are compared with generation 0 of their arm, which runs
                    # first, so the overview shows each generation's losses from the start.
                    baseline_endpoint=first_generation,
                )
            )
            first_generation = first_generation or endpoint
            endpoints.append(endpoint)
    endpoints.append(
        seed_drifting_endpoint(
            _shipped_prompt_set(DRIFTING_PROMPT_SET_NAME, 1, DRIFTING_EVERY_NTH_PROBE),
            served_lab(),
            DRIFTING_BACKFILLED_RUNS,
            now,
        )
    )
    # Counted from the end of seeding (minutes of backfilling), when the first runs can start.
    later_generations = [endpoint.pk for endpoint in endpoints if endpoint.baseline_endpoint_id]
    Endpoint.objects.filter(pk__in=later_generations).update(
        next_run_at=timezone.now() + LATER_GENERATIONS_DELAY
    )
    # The worker trains what the endpoints will ask for, while the first runs (generation 0,
    # trained for the drifting endpoint's history) are sampled.
    for arm in LAB_ARMS:
        request_training(arm, max(LAB_GENERATIONS))
    request_training(DRIFTING_ARM, MAX_GENERATION)
    return endpoints


def seed_drifting_endpoint(
    prompt_set: PromptSet, lab: Lab, backfilled_runs: int, now: datetime
) -> Endpoint:
    """The endpoint of ``lab``'s drifting model (the truncated arm), with ``backfilled_runs``
    runs of history, one every interval up to ``now``; its next run, the next generation, comes
    soon after the other lab endpoints' first runs."""
    name = drifting_model_id(DRIFTING_ARM)
    endpoint = _save_lab_endpoint(
        Endpoint(
            name=name,
            model_family=f"lab-{DRIFTING_ARM}",
            version_label="drift",
            base_url=_lab_base_url(),
            model=name,
            prompt_set=prompt_set,
            next_run_at=now + LATER_GENERATIONS_DELAY,
            **_LAB_SAMPLING,
        )
    )
    interval = timedelta(minutes=LAB_INTERVAL_MINUTES)
    backfill_history(endpoint, lab, backfilled_runs, interval, now)
    return endpoint
