"""The soak (scripts/soak.py, `make soak`): its checks, and a tiny soak on PostgreSQL and Redis."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from monitor.models import Sample
from monitor.services import sampling
from scripts import soak
from tests.conftest import require_service
from tests.factories import make_endpoint, make_prompt_set

SCRIPT = Path(soak.__file__)
NOTHING_HOSTILE = dict.fromkeys(soak.HOSTILE_REPLIES, 0)


@pytest.mark.django_db
def test_the_checks_report_missing_samples_and_unjudged_runs(fake_llm):
    endpoint = make_endpoint(fake_llm.url, prompt_set=make_prompt_set(open_prompts=3, probes=0))
    run = sampling.start_run(endpoint)
    prompt = run.prompt_set_version.prompts.first()
    Sample.objects.create(run=run, prompt=prompt, sample_index=0, text="")

    sample_failures = soak.check_samples(1, 3, 2, NOTHING_HOSTILE)
    run_failures = soak.check_runs(1)

    assert sample_failures == [
        "1 samples stored, expected 1x3x2",
        "1 samples neither succeeded nor recorded an error",
    ]
    assert run_failures == [
        "1 runs not finished",
        "1 runs not evaluated by the alert rules",
    ]


def soak_url(url: str, path: str) -> str:
    """``url`` on the same server, with another database (path)."""
    return urlunsplit(urlsplit(url)._replace(path=path))


@pytest.mark.integration
def test_a_tiny_soak_accounts_for_every_sample_and_judges_every_run():
    database_url, redis_url = os.environ.get("TEST_DATABASE_URL"), os.environ.get("REDIS_URL")
    require_service("PostgreSQL", bool(database_url))
    require_service("Redis", bool(redis_url))
    database = urlsplit(database_url).path.lstrip("/")
    command = [
        sys.executable,
        str(SCRIPT),
        *("--endpoints", "2", "--prompts", "3", "--samples", "2", "--no-embeddings"),
        *("--hostile-every", "2", "--timeout", "90"),
        *("--database-url", soak_url(database_url, f"/{database}_soak_test")),
        *("--redis-url", soak_url(redis_url, "/13")),
    ]

    result = subprocess.run(command, capture_output=True, text=True, timeout=150)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: every sample accounted for" in result.stdout
    assert "hostile replies sent {'surrogate': 2, 'nul': 2, 'oversized': 1, 'markup': 1}" in (
        result.stdout
    )
