"""The default prompt sets shipped with Tailwatch (rebuilt by ``scripts/build_probe_set.py``).

Each row has a stable ``id``, a ``kind`` ("probe" or "open") and the prompt ``text``; probes
also carry ``gold`` (accepted answers), ``popularity`` (population of the entity) and
``entity`` (what the question is about).
"""

import json
from importlib import resources
from typing import Any


def _load(name: str) -> list[dict[str, Any]]:
    text = resources.files("evaluators").joinpath("data", name).read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_default_probes() -> list[dict[str, Any]]:
    """The factual probe set: questions about cities and countries from GeoNames and ISO 3166."""
    return _load("probes.jsonl")


def load_default_open_prompts() -> list[dict[str, Any]]:
    """The open-ended prompt set."""
    return _load("open_prompts.jsonl")
