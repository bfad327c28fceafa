"""Small builders for test data."""

import itertools

from monitor.models import Endpoint, PromptSet
from monitor.services.prompts import PromptRow, add_version

_names = itertools.count(1)


def make_prompt_set(open_prompts: int = 2, probes: int = 1) -> PromptSet:
    prompt_set = PromptSet.objects.create(name=f"prompts-{next(_names)}")
    rows = [PromptRow(f"open-{i}", "open", f"Write about topic {i}.") for i in range(open_prompts)]
    rows += [
        PromptRow(f"probe-{i}", "probe", f"Where is city {i}?", [f"Country {i}"], 1e3 * i)
        for i in range(probes)
    ]
    add_version(prompt_set, rows, "test")
    return prompt_set


def make_endpoint(base_url: str, **overrides) -> Endpoint:
    fields = {
        "name": "model-a",
        "model_family": "family",
        "version_label": "v1",
        "base_url": base_url,
        "model": "fake",
        "samples_per_prompt": 2,
        "concurrency": 3,
        "timeout_seconds": 5,
        "interval_minutes": 60,
    }
    fields.update(overrides)
    if "prompt_set" not in fields:
        fields["prompt_set"] = make_prompt_set()
    return Endpoint.objects.create(**fields)
