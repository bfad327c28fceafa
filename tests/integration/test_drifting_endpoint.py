"""End to end: the drifting demo endpoint's backfilled history and its next run on a real worker
fire the blandness-creep alert.

The endpoint is seeded as ``make up`` seeds it, with fewer prompts and runs: seven backfilled
runs (generations 0 to 6 of the truncated arm, scored and judged at seeding time), one short of
the creep rule's window. Its next run is sampled over HTTP from the lab served by a live
Tailwatch server (the lab on, the endpoint holding its token), which serves it generation 7,
trained beforehand as the worker trains it, and scored and judged by a Celery worker: the
eight runs trend blander, and the alert fires.
"""

import pytest
from django.utils import timezone

import evaluators
from monitor.models import Alert, AlertState, PromptSet, RuleKind
from monitor.services import prompts
from monitor.services import served_lab as served_lab_service
from monitor.services.seeding import DRIFTING_ARM, seed_drifting_endpoint
from monitor.services.served_lab import drifting_generation
from tests.conftest import run_through_pipeline, wait_for
from tests.integration.conftest import FAST_WORKER

pytestmark = [pytest.mark.integration]

BACKFILLED_RUNS = 7


def writing_prompt_set() -> PromptSet:
    """Open prompts, where blandness shows, and a few probes."""
    rows = evaluators.load_default_open_prompts()[:12] + evaluators.load_default_probes()[::100]
    prompt_set = PromptSet.objects.create(name="drift prompts")
    prompts.add_version(prompt_set, prompts.validate_rows(enumerate(rows, start=1)), "test")
    return prompt_set


def test_the_drifting_endpoint_fires_blandness_creep_from_its_history(
    live_server, celery_processes, small_lab, settings, monkeypatch
):
    settings.TAILWATCH_EMBEDDINGS = False
    settings.SITE_URL = live_server.url
    settings.TAILWATCH_LAB_ENABLED = True
    monkeypatch.setattr(served_lab_service, "served_lab", lambda: small_lab)
    endpoint = seed_drifting_endpoint(
        writing_prompt_set(), small_lab, BACKFILLED_RUNS, timezone.now()
    )
    creep = Alert.objects.filter(
        endpoint=endpoint, rule__kind=RuleKind.CREEP, rule__metric="blandness_index"
    )
    history = endpoint.runs.order_by("created_at")
    assert [run.points.filter(metric="blandness_index").exists() for run in history] == [
        True
    ] * BACKFILLED_RUNS
    assert not creep.exists(), "seven runs are one short of the rule's window"

    # The generation served next, trained as the worker trains it.
    small_lab.model(DRIFTING_ARM, BACKFILLED_RUNS)
    celery_processes.worker(**FAST_WORKER)
    run = run_through_pipeline(endpoint, timeout=180)
    assert run.status == "succeeded" and run.scored_at, run.error_summary or run.score_error

    def fired():
        """the blandness-creep alert of the drifting endpoint is firing"""
        return creep.filter(state=AlertState.FIRING).exists()

    wait_for(fired, timeout=60)
    assert drifting_generation(endpoint.model) == BACKFILLED_RUNS + 1
