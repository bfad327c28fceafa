"""An endpoint's default rules are the alert policy: they fire at the first generation of a
recursive chain, and not for an independent draw of the same source, nor for longer answers."""

import pytest

from evaluators.policy import DEFAULT_POLICY
from lab import prose
from monitor.models import DEFAULT_RULES, Alert, AlertRule, RuleKind
from monitor.services import alerting, scoring
from tests.factories import make_endpoint, make_finished_run, make_prompt_set

pytestmark = pytest.mark.django_db

PROMPTS, SAMPLES = 100, 5
IDS = prose.prompt_ids(0)


@pytest.fixture
def endpoint(settings):
    settings.TAILWATCH_EMBEDDINGS = False
    return make_endpoint(
        "http://127.0.0.1:9/v1",
        prompt_set=make_prompt_set(open_prompts=PROMPTS, probes=0),
        samples_per_prompt=SAMPLES,
    )


def judged_run(endpoint, rows: list[dict]) -> list[str]:
    """Score and judge a run answering with ``rows``; the metrics of the alerts that fired."""
    by_prompt: dict[str, list[str]] = {}
    for row in rows:
        by_prompt.setdefault(row["prompt_id"], []).append(row["text"])
    run = scoring.score_run(make_finished_run(endpoint, list(by_prompt.values())).pk)
    alerting.evaluate_run(run.pk)
    return sorted(Alert.objects.filter(endpoint=endpoint).values_list("rule__metric", flat=True))


def test_the_default_rules_are_the_policys_drop_rules(endpoint):
    drops = AlertRule.objects.filter(endpoint=endpoint, kind=RuleKind.DROP)
    assert sorted(drops.values_list("metric", flat=True)) == sorted(DEFAULT_POLICY.metrics)
    assert {(rule.p_value, rule.noise_floor, rule.change_percent) for rule in drops} == {
        (DEFAULT_POLICY.alpha, DEFAULT_POLICY.noise_floor, 0.0)
    }
    assert len(DEFAULT_RULES) == len(DEFAULT_POLICY.watches) + 2  # down and creep


def test_the_first_generation_of_a_recursive_chain_fires_the_default_rules(endpoint):
    generations = prose.chain(0, 1, ids=IDS)
    assert judged_run(endpoint, generations[0]) == []
    assert "distinct_2_matched" in judged_run(endpoint, generations[1])


def test_an_independent_draw_with_answers_twice_as_long_fires_nothing(endpoint):
    assert judged_run(endpoint, prose.draw(1, ids=IDS)) == []
    assert judged_run(endpoint, prose.draw(2, ids=IDS)) == []
    assert judged_run(endpoint, prose.draw(3, ids=IDS, words=60)) == []
