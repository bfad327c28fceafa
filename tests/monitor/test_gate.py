"""The release gate: a run's verdict (pending, pass, fail with the regressed metrics, error),
over the API and from `manage.py gate`, and the token command."""

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from monitor.models import AlertRule, ApiToken, RuleKind, Run, RunStatus
from monitor.selectors.verdict import ERROR, FAIL, PASS, PENDING, run_verdict
from monitor.services import alerting, sampling
from tests.factories import make_scored_run, make_user

pytestmark = pytest.mark.django_db

METRIC = "distinct_2_matched"


@pytest.fixture
def watched(versions):
    """v1 and v2 (judged against v1), each watched by one drop rule, v1 scored and judged."""
    old, new = versions
    AlertRule.objects.exclude(kind=RuleKind.DROP, metric=METRIC).delete()
    alerting.evaluate_run(make_scored_run(old, seed=1, vocabulary=3000).pk)
    return old, new


def judged_run(endpoint, vocabulary: int) -> Run:
    run = make_scored_run(endpoint, seed=2, vocabulary=vocabulary)
    alerting.evaluate_run(run.pk)
    run.refresh_from_db()
    return run


def test_a_collapsed_version_fails_with_the_regressed_metric_and_links(watched):
    old, new = watched
    verdict = run_verdict(judged_run(new, vocabulary=120))
    assert verdict.state == FAIL
    assert [finding.metric for finding in verdict.regressed] == [METRIC]
    baseline = old.runs.get()
    assert verdict.baseline_run == baseline.pk
    assert verdict.links["compare"] == f"/compare/?by=run&a={baseline.pk}&b={verdict.run.pk}"


def test_a_healthy_version_passes(watched):
    _, new = watched
    verdict = run_verdict(judged_run(new, vocabulary=3000))
    assert verdict.state == PASS and verdict.regressed == []


def test_a_run_not_yet_judged_is_pending_and_a_failed_one_is_an_error(watched):
    _, new = watched
    queued = sampling.start_run(new)
    assert run_verdict(queued).state == PENDING
    Run.objects.filter(pk=queued.pk).update(status=RunStatus.FAILED, error_summary="all failed")
    queued.refresh_from_db()
    alerting.evaluate_run(queued.pk)
    queued.refresh_from_db()
    verdict = run_verdict(queued)
    assert verdict.state == ERROR and "all failed" in verdict.reason


def test_the_verdict_route_says_the_same_with_absolute_links(watched):
    _, new = watched
    run = judged_run(new, vocabulary=120)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(make_user('viewer'))}")
    body = client.get(f"/api/runs/{run.pk}/verdict/").json()
    assert body["state"] == FAIL and body["regressed"][0]["metric"] == METRIC
    assert body["links"]["run"] == f"http://testserver/runs/{run.pk}/"
    assert client.get("/api/runs/999999/verdict/").status_code == 404


def gate(*args: str) -> int:
    try:
        call_command("gate", *args)
    except SystemExit as exit_:
        return exit_.code
    except CommandError as exc:
        return exc.returncode
    raise AssertionError("the gate always says how it ended")


def test_gate_exits_1_on_a_regression_0_on_a_pass_2_on_an_unknown_endpoint(watched, capsys):
    _, new = watched
    judged_run(new, vocabulary=120)
    assert gate("--endpoint", new.name) == 1
    assert "REGRESSED" in capsys.readouterr().out
    Run.objects.filter(endpoint=new).delete()
    judged_run(new, vocabulary=3000)
    assert gate("--endpoint", new.name) == 0
    assert gate("--endpoint", "no-such-endpoint") == 2


def test_gate_without_a_verdict_in_time_exits_2(watched, capsys):
    _, new = watched
    code = gate("--endpoint", new.name, "--trigger", "--wait", "--timeout", "0.3", "--poll", "0.1")
    assert code == 2
    assert "sampling (0/" in capsys.readouterr().out


@pytest.mark.parametrize(
    "option, value",
    [("--timeout", "nan"), ("--timeout", "-1"), ("--timeout", "inf"), ("--poll", "nan"),
     ("--poll", "0"), ("--poll", "inf")],
)  # fmt: skip
def test_gate_refuses_a_wait_that_is_no_number_of_seconds(watched, option, value):
    _, new = watched
    with pytest.raises(CommandError, match=f"{option} must be") as refused:
        call_command("gate", "--endpoint", new.name, "--trigger", "--wait", option, value)
    assert refused.value.returncode == 2
    assert not Run.objects.filter(endpoint=new).exists()


def test_api_token_prints_a_token_once_rotates_and_revokes(capsys):
    user = make_user("viewer", "ci")
    call_command("api_token", "--user", "ci")
    first = capsys.readouterr().out.strip()
    assert ApiToken.objects.get(user=user).key_hash == ApiToken.hash_key(first)
    with pytest.raises(CommandError, match="--rotate"):
        call_command("api_token", "--user", "ci")
    call_command("api_token", "--user", "ci", "--rotate")
    assert capsys.readouterr().out.strip() != first
    call_command("api_token", "--user", "ci", "--revoke")
    assert not ApiToken.objects.exists()
    with pytest.raises(CommandError, match="no user"):
        call_command("api_token", "--user", "nobody")
