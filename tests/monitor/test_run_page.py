"""The run page: outputs escaped, progress as JSON, wrong probes by bucket, the run's stage."""

import pytest
from django.urls import reverse

from monitor.clients.openai_compatible import Completion, CompletionFailure
from monitor.models import DEFAULT_RULES, RuleKind
from monitor.services import sampling
from tests.factories import make_endpoint, make_prompt_set

pytestmark = pytest.mark.django_db

HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"


def test_a_run_page_shows_outputs_escaped_and_errors(user_client):
    run = sampling.start_run(make_endpoint("http://127.0.0.1:9/v1"))
    first, second = run.prompt_set_version.prompts.all()[:2]
    sampling.record_sample(run, first, 0, Completion(HOSTILE, "stop", 3, 9, 120, 1))
    sampling.record_sample(
        run, second, 0, CompletionFailure("HTTP 500", "HTTP 500 from x: <b>boom</b>", 4, 900, True)
    )
    page = user_client.get(run.get_absolute_url()).content.decode()
    assert HOSTILE not in page and "<b>boom</b>" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;b&gt;boom&lt;/b&gt;" in page and "after 4 attempts" in page


def test_run_progress_is_served_as_json(user_client, fake_llm):
    run = sampling.start_run(make_endpoint(fake_llm.url))
    progress = user_client.get(reverse("run-progress", args=[run.pk])).json()
    assert progress == {
        "status": "queued",
        "active": True,
        "done": 0,
        "expected": 6,
        "failed": 0,
        "percent": 0,
    }


def test_the_run_page_lists_wrong_probes_by_popularity_bucket(user_client, family):
    page = user_client.get(family.collapsed_runs[-1].get_absolute_url()).content.decode()
    tail = page.index("Tail (rarest third)")
    assert page.index("Tromso", tail) < page.index("<h2>Samples</h2>")
    assert "Rare-entity accuracy" in page and "Per prompt" in page


def test_the_run_page_says_which_stage_the_run_is_in(user_client, settings):
    from monitor.services import alerting, scoring
    from tests.factories import english_texts, make_finished_run

    settings.TAILWATCH_EMBEDDINGS = False
    old = make_endpoint("http://127.0.0.1:9/v1", name="v1", prompt_set=make_prompt_set(6, 0))
    new = make_endpoint(old.base_url, name="v2", prompt_set=old.prompt_set, baseline_endpoint=old)
    run = make_finished_run(new, english_texts(1, 2000, 6, 2))
    assert "Sampled: scoring next" in user_client.get(run.get_absolute_url()).content.decode()

    scoring.score_run(run.pk)
    alerting.evaluate_run(run.pk)
    page = user_client.get(run.get_absolute_url()).content.decode()
    assert "Waiting for the baseline: v1 has no scored run of prompts-" in page
    assert 'data-outcome="clear"' in page  # the endpoint-down rule needed no baseline
    waiting = [rule for rule in DEFAULT_RULES if rule["kind"] != RuleKind.DOWN]
    assert page.count('data-outcome="waiting"') == len(waiting)  # drop and blandness rules

    scoring.score_run(make_finished_run(old, english_texts(2, 2000, 6, 2)).pk)
    scoring.score_run(run.pk)
    alerting.evaluate_run(run.pk)
    page = user_client.get(run.get_absolute_url()).content.decode()
    assert f"Evaluated against {len(DEFAULT_RULES)} alert rules" in page
