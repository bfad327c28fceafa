"""End to end: two collapse-lab generations through the whole pipeline, and the alert it raises.

Celery worker → sampling over HTTP (the lab served by a live Tailwatch server, its generations
trained beforehand) → scoring → alerting: the later generation of the pure arm, compared with the
earlier one as its pinned baseline, fires a drop-from-baseline alert on rare-entity accuracy.
"""

import pytest

import evaluators
from lab import Arm, model_id
from monitor.models import Alert, AlertState, Endpoint, PromptSet, RuleKind
from monitor.services import prompts
from monitor.services.endpoints import save_endpoint
from monitor.services.served_lab import served_lab
from tests.conftest import run_through_pipeline

pytestmark = [pytest.mark.integration]

WORKER_ENV = {"TAILWATCH_EMBEDDINGS": "0", "TAILWATCH_BACKOFF_BASE_SECONDS": "0.05"}


def lab_prompt_set() -> PromptSet:
    """Every 8th shipped probe (head to tail) and a few open prompts."""
    rows = evaluators.load_default_probes()[::8] + evaluators.load_default_open_prompts()[:8]
    prompt_set = PromptSet.objects.create(name="lab probes")
    prompts.add_version(prompt_set, prompts.validate_rows(enumerate(rows, start=1)), "test")
    return prompt_set


def lab_endpoint(live_server, prompt_set: PromptSet, generation: int, token: str) -> Endpoint:
    name = model_id(Arm.PURE, generation)
    endpoint = Endpoint(
        name=name,
        model_family="lab-pure",
        version_label=f"g{generation}",
        base_url=f"{live_server.url}/lab/v1",
        model=name,
        prompt_set=prompt_set,
        samples_per_prompt=2,
        concurrency=4,
        timeout_seconds=60,
    )
    endpoint.set_api_key(token)
    return save_endpoint(endpoint)


def test_a_later_pure_generation_fires_a_drop_from_baseline_alert(
    live_server, celery_processes, settings
):
    settings.TAILWATCH_LAB_ENABLED = True
    served_lab().model(Arm.PURE, 8)  # trained beforehand, as `manage.py lab` or the worker does
    prompt_set = lab_prompt_set()
    celery_processes.worker(**WORKER_ENV)

    early = lab_endpoint(live_server, prompt_set, 0, settings.TAILWATCH_LAB_TOKEN)
    baseline = run_through_pipeline(early, timeout=120)
    assert baseline.status == "succeeded" and baseline.scored_at, baseline.error_summary

    late = lab_endpoint(live_server, prompt_set, 8, settings.TAILWATCH_LAB_TOKEN)
    late.baseline_run = baseline  # the version comparison: g8 against g0
    late.save()
    run = run_through_pipeline(late, timeout=120)

    assert run.scored_at, run.score_error
    metrics = run.report["metrics"]
    assert metrics["accuracy_tail"]["value"] < baseline.report["metrics"]["accuracy_tail"]["value"]
    fired = Alert.objects.filter(endpoint=late, state=AlertState.FIRING, rule__kind=RuleKind.DROP)
    assert "rare_entity_accuracy" in set(fired.values_list("rule__metric", flat=True))
    assert not Alert.objects.filter(endpoint=early).exists()
