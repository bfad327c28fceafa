"""A model family with two versions, sampled from the fake model server: v1 answers well, v2
collapses after its first run (bland, repetitive answers; rare facts forgotten). Every run is
sampled over HTTP, scored and checked against the alert rules, as the pipeline would do it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

from django.utils import timezone

from monitor import queue
from monitor.fake_llm import FakeBehaviour, FakeLLMServer, fake_reply
from monitor.models import Endpoint, PromptSet, Run
from monitor.services import alerting, sampling, scoring
from monitor.services.prompts import PromptRow, add_version
from tests.factories import make_endpoint

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
HOSTILE_PROMPT = "Show me some HTML."
OPEN_PROMPTS = [
    "Describe a river delta at dawn.",
    "Write a short note about mountain weather.",
    "Explain how a lighthouse works.",
    "Tell a story about a market town.",
    "Describe the life of a heron.",
    "What makes a good cup of tea?",
    "Write about the history of maps.",
    HOSTILE_PROMPT,
]
# (town, country, population): the smaller the town, the rarer the fact. Enough probes that the
# collapsed version's loss is significant after the alerting's correction for many metrics.
PROBES = [
    ("Tromso", "Norway", 77_000),
    ("Arequipa", "Peru", 1_000_000),
    ("Kisumu", "Kenya", 600_000),
    ("Bendigo", "Australia", 100_000),
    ("Ushuaia", "Argentina", 80_000),
    ("Gyumri", "Armenia", 110_000),
    ("Lahti", "Finland", 120_000),
    ("Mopti", "Mali", 120_000),
    ("Hue", "Vietnam", 450_000),
    ("Kiruna", "Sweden", 23_000),
    ("Oamaru", "New Zealand", 14_000),
    ("Tarija", "Bolivia", 200_000),
    ("Sokode", "Togo", 120_000),
    ("Ninh Binh", "Vietnam", 160_000),
    ("Ponta Delgada", "Portugal", 68_000),
    ("Fes", "Morocco", 1_200_000),
]
ANSWERS = {f"In which country is the town of {town}?": country for town, country, _ in PROBES}
POPULARITY = {f"In which country is the town of {town}?": pop for town, _, pop in PROBES}
# The collapsed version still knows the best-known places, and nothing rarer.
REMEMBERED_POPULATION = 500_000
SAMPLES_PER_PROMPT = 3
# Enough requests in flight that a run takes a moment, not so many that they overflow the fake
# server's listen backlog.
CONCURRENCY = 8
RUN_SPACING = timedelta(hours=6)


def healthy_reply(prompt: str, rng: random.Random) -> str:
    if prompt == HOSTILE_PROMPT:
        return HOSTILE
    if prompt in ANSWERS:
        return f"{ANSWERS[prompt]}, {fake_reply(prompt, rng).lower()}"
    return fake_reply(prompt, rng)


def collapsed_reply(prompt: str, rng: random.Random) -> str:
    if prompt in ANSWERS:
        if POPULARITY[prompt] >= REMEMBERED_POPULATION:
            return f"It is in {ANSWERS[prompt]}."
        return "It is in France, I think."
    return "That is a good question. There are many things to say about it, and it is good."


def scenario_prompt_set() -> PromptSet:
    prompt_set = PromptSet.objects.create(name="Support probes")
    rows = [PromptRow(f"open-{i}", "open", text) for i, text in enumerate(OPEN_PROMPTS)]
    rows += [
        PromptRow(f"probe-{town.lower()}", "probe", text, [ANSWERS[text]], POPULARITY[text])
        for (town, _, _), text in zip(PROBES, ANSWERS, strict=True)
    ]
    add_version(prompt_set, rows, "support.jsonl")
    return prompt_set


@dataclass
class Scenario:
    healthy: Endpoint
    collapsed: Endpoint
    healthy_runs: list[Run]
    collapsed_runs: list[Run]


class FakeModels:
    """Two fake model servers: one answers well, one has collapsed."""

    def __enter__(self) -> FakeModels:
        self.healthy = FakeLLMServer(FakeBehaviour(seed=1, reply=healthy_reply)).start()
        self.collapsed = FakeLLMServer(FakeBehaviour(seed=2, reply=collapsed_reply)).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.healthy.stop()
        self.collapsed.stop()


def sample_now(endpoint: Endpoint) -> Run:
    """Start a run of ``endpoint`` and sample it here, in-process: nothing is queued."""
    with mock.patch.object(queue, "sample_run"):
        run = sampling.start_run(endpoint)
    return sampling.sample_run(run.pk)


def sampled_run(endpoint: Endpoint, finished_at) -> Run:
    """Sample, score and alert-check one run of ``endpoint`` that finished at ``finished_at``."""
    run = sample_now(endpoint)
    Run.objects.filter(pk=run.pk).update(
        created_at=finished_at - timedelta(minutes=1),
        started_at=finished_at - timedelta(minutes=1),
        finished_at=finished_at,
    )
    run = scoring.score_run(run.pk)
    alerting.evaluate_run(run.pk)
    return run


def build(models: FakeModels, runs: int = 2) -> Scenario:
    """``runs`` runs of each version, ``RUN_SPACING`` apart and ending now; v2 collapses after
    its first run, so its drop-from-baseline alerts fire."""
    prompt_set = scenario_prompt_set()
    common = {
        "model_family": "support-bot",
        "prompt_set": prompt_set,
        "samples_per_prompt": SAMPLES_PER_PROMPT,
        "concurrency": CONCURRENCY,
    }
    healthy = make_endpoint(models.healthy.url, name="support-v1", version_label="v1", **common)
    collapsed = make_endpoint(models.healthy.url, name="support-v2", version_label="v2", **common)
    now = timezone.now()
    scenario = Scenario(healthy, collapsed, [], [])
    for index in range(runs):
        finished_at = now - RUN_SPACING * (runs - 1 - index)
        scenario.healthy_runs.append(sampled_run(healthy, finished_at))
        if index == 1:  # v2 collapses from its second run on
            Endpoint.objects.filter(pk=collapsed.pk).update(base_url=models.collapsed.url)
            collapsed.refresh_from_db()
        scenario.collapsed_runs.append(sampled_run(collapsed, finished_at))
    return scenario
