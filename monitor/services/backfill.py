"""A drifting lab endpoint's history, made at once: earlier runs with real replies, each scored
and judged as a live run is, so the endpoint shows its trend and its alerts from the start.

Each backfilled run holds the replies of the generation the endpoint would have served then (as
many generations on as it had runs before it, as ``/lab/v1`` serves a drifting model), written
by the lab model directly rather than over HTTP, and goes through the same services as a live
run, in the order the runs ran: scoring (metric points with confidence intervals), and the alert
rules, which judge an endpoint's runs only in that order. The first run is pinned as the
baseline: generation 0, the one the later generations are compared with.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
from django.utils import timezone

from lab import Lab, parse_drifting_model_id
from lab.respond import LabModel
from monitor.models import Endpoint, Run, RunStatus, RunTrigger, Sample
from monitor.services import alerting, baselines, scoring
from monitor.services.served_lab import drifting_generation

log = logging.getLogger(__name__)

# How long a backfilled run is said to have taken to sample.
SAMPLING_TIME = timedelta(minutes=1)


def backfill_history(
    endpoint: Endpoint, lab: Lab, runs: int, spacing: timedelta, now: datetime | None = None
) -> list[Run]:
    """Give ``endpoint``, which serves a drifting lab model, ``runs`` finished runs, one every
    ``spacing`` up to ``now``, each scored and judged before the next is made."""
    arm = parse_drifting_model_id(endpoint.model)
    if arm is None:
        raise ValueError(f"{endpoint.model!r} is not a drifting lab model")
    now = now or timezone.now()
    made = []
    for index in range(runs):
        model = lab.lab_model(arm, drifting_generation(endpoint.model))
        rng = np.random.default_rng([lab.config.seed, index])
        run = _finished_run(endpoint, model, rng, started_at=now - (runs - index) * spacing)
        scoring_started = timezone.now()
        run = scoring.score_run(run.pk)
        # The run is dated in the past, and so is its scoring, by as long as scoring took: the
        # run page and the exporter's scoring-time histogram then tell the truth about it.
        run.scored_at = run.finished_at + (timezone.now() - scoring_started)
        run.save(update_fields=["scored_at"])
        if index == 0:
            baselines.pin_baseline(run)
        alerting.evaluate_run(run.pk)
        made.append(run)
        log.info("%s: backfilled run %s of %s", endpoint.name, index + 1, runs)
    return made


def _finished_run(
    endpoint: Endpoint, model: LabModel, rng: np.random.Generator, started_at: datetime
) -> Run:
    """A succeeded run of ``endpoint`` that sampled ``model`` at ``started_at``: one reply per
    slot of the newest prompt-set version, as a live run would have stored them."""
    version = endpoint.prompt_set.latest_version
    slots = [
        (prompt, index)
        for prompt in version.prompts.order_by("position")
        for index in range(endpoint.samples_per_prompt)
    ]
    replies = model.replies([prompt.text for prompt, _ in slots], rng)
    run = Run.objects.create(
        endpoint=endpoint,
        prompt_set_version=version,
        trigger=RunTrigger.SCHEDULE,
        status=RunStatus.SUCCEEDED,
        request_params=endpoint.request_params(),
        samples_per_prompt=endpoint.samples_per_prompt,
        samples_expected=len(slots),
        samples_succeeded=len(slots),
        created_at=started_at,
        enqueued_at=started_at,
        started_at=started_at,
        finished_at=started_at + SAMPLING_TIME,
        attempts=1,
    )
    Sample.objects.bulk_create(
        Sample(run=run, prompt=prompt, sample_index=index, text=text, finish_reason="stop")
        for (prompt, index), text in zip(slots, replies, strict=True)
    )
    return run
