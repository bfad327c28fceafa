"""The operators' commands: endpoints, prompt sets, channels, rules and exports, each held to the
validation of the page that does the same, and each refusing bad input with a message."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from monitor.models import AlertRule, Channel, Endpoint, MetricPoint, Notification, Sample
from monitor.queue import SEND_NOTIFICATION
from tests.factories import make_endpoint, make_prompt_set, make_scored_run

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def endpoint():
    return make_endpoint("http://127.0.0.1:9/v1", name="bot-v1")


# endpoints ----------------------------------------------------------------------------------
def test_endpoints_list_shows_schedule_state_and_baseline(endpoint):
    make_endpoint("http://127.0.0.1:9/v1", name="bot-v2", baseline_endpoint=endpoint)
    lines = run("endpoints", "list").splitlines()
    assert lines[0].split("\t")[:6] == [
        "name", "family", "version", "state", "interval_min", "baseline"
    ]  # fmt: skip
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert rows["bot-v1"][3:6] == ["active", "60", "-"]
    assert rows["bot-v2"][5] == "bot-v1"


def test_endpoints_set_changes_baseline_and_schedule_and_keeps_the_rest(endpoint):
    other = make_endpoint("http://127.0.0.1:9/v1", name="bot-v0")
    before = timezone.now()
    out = run("endpoints", "set", "bot-v1", "--baseline-endpoint", "bot-v0", "--interval", "30")
    assert "Saved bot-v1" in out
    endpoint.refresh_from_db()
    assert endpoint.baseline_endpoint == other
    assert endpoint.interval_minutes == 30
    assert endpoint.samples_per_prompt == 2 and endpoint.model == "fake"
    assert endpoint.next_run_at >= before + timedelta(minutes=29)
    run("endpoints", "set", "bot-v1", "--baseline-endpoint", "")
    endpoint.refresh_from_db()
    assert endpoint.baseline_endpoint is None


def test_endpoints_set_refuses_what_the_edit_page_refuses(endpoint):
    with pytest.raises(CommandError, match="interval_minutes: At least 1 minute"):
        run("endpoints", "set", "bot-v1", "--interval", "0")
    with pytest.raises(CommandError, match="baseline_endpoint: Select a valid choice"):
        run("endpoints", "set", "bot-v1", "--baseline-endpoint", "bot-v1")
    with pytest.raises(CommandError, match="no endpoint named 'nope'"):
        run("endpoints", "set", "nope", "--interval", "5")
    with pytest.raises(CommandError, match="nothing to change"):
        run("endpoints", "set", "bot-v1")
    assert Endpoint.objects.get(pk=endpoint.pk).interval_minutes == 60


def test_endpoints_pause_and_resume(endpoint):
    assert run("endpoints", "pause", "bot-v1") == "bot-v1 is paused.\n"
    assert not Endpoint.objects.get(pk=endpoint.pk).enabled
    run("endpoints", "pause", "bot-v1")
    assert not Endpoint.objects.get(pk=endpoint.pk).enabled
    run("endpoints", "resume", "bot-v1")
    assert Endpoint.objects.get(pk=endpoint.pk).enabled
    with pytest.raises(CommandError, match="no endpoint named 'ghost'"):
        run("endpoints", "resume", "ghost")


def test_an_unknown_action_is_an_error_not_a_traceback():
    with pytest.raises(CommandError, match="invalid choice: 'delete'"):
        run("endpoints", "delete")


# prompt sets --------------------------------------------------------------------------------
def test_prompt_set_import_creates_a_set_then_adds_a_version(tmp_path):
    first = tmp_path / "probes.jsonl"
    first.write_text('{"id": "a", "text": "Capital of France?", "gold": ["Paris"]}\n')
    assert "Imported geo v1 (1 prompts)" in run("prompt_sets", "import", "geo", str(first))
    second = tmp_path / "probes.csv"
    second.write_text("id,text,gold\na,Capital of France?,Paris\nb,Capital of Peru?,Lima\n")
    assert "Imported geo v2 (2 prompts)" in run("prompt_sets", "import", "geo", str(second))
    assert "geo\t2\t2\t0" in run("prompt_sets", "list")


def test_prompt_set_import_lists_every_bad_row_and_stores_nothing(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": ""}\n{"id": "x", "text": "ok", "gold": 3}\n')
    with pytest.raises(CommandError) as raised:
        run("prompt_sets", "import", "broken", str(bad))
    assert "2 problem(s)" in str(raised.value)
    assert "line 1: 'text' is missing or empty" in str(raised.value)
    assert "line 2: 'gold' must be a list of strings" in str(raised.value)
    with pytest.raises(CommandError, match="cannot read"):
        run("prompt_sets", "import", "broken", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="name: Use one line of text"):
        run("prompt_sets", "import", "two\nlines", str(bad))
    assert "broken" not in run("prompt_sets", "list")


# channels -----------------------------------------------------------------------------------
def test_channels_add_list_test_and_remove(enqueued, django_capture_on_commit_callbacks):
    out = run("channels", "add", "ops", "--kind", "email", "--target", "a@example.org, b@x.org")
    assert "Added email channel ops" in out
    run("channels", "add", "hook", "--kind", "webhook", "--target", "http://127.0.0.1:9/h",
        "--not-default")  # fmt: skip
    assert Channel.objects.get(name="hook").is_default is False
    assert "ops\temail\tyes\tyes\ta@example.org, b@x.org" in run("channels", "list")

    with django_capture_on_commit_callbacks(execute=True):
        assert "Queued test notification" in run("channels", "test", "ops")
    notification = Notification.objects.get(channel__name="ops")
    assert notification.is_test
    assert enqueued == [(SEND_NOTIFICATION, [notification.pk])]

    run("channels", "remove", "hook")
    assert list(Channel.objects.values_list("name", flat=True)) == ["ops"]


def test_channels_refuse_a_bad_target_and_an_unknown_name():
    with pytest.raises(CommandError, match="Enter a valid email address"):
        run("channels", "add", "ops", "--kind", "email", "--target", "not-an-address")
    with pytest.raises(CommandError, match="Enter an http:// or https:// URL"):
        run("channels", "add", "hook", "--kind", "webhook", "--target", "ftp://x")
    with pytest.raises(CommandError, match="Remove the user name and password from the URL"):
        run("channels", "add", "c3", "--kind", "webhook", "--target", "http://a@b/")
    assert not Channel.objects.filter(name="c3").exists()
    with pytest.raises(CommandError, match="no channel named 'ops'"):
        run("channels", "test", "ops")
    assert not Channel.objects.exists()


# rules --------------------------------------------------------------------------------------
def test_rules_add_edit_disable_and_list(endpoint):
    Channel.objects.create(name="pager", kind="email", target="p@example.org")
    out = run("rules", "add", "--kind", "threshold", "--metric", "distinct_2",
              "--threshold", "0.3", "--endpoint", "bot-v1", "--channels", "pager")  # fmt: skip
    rule = AlertRule.objects.get(kind="threshold")
    assert f"Saved rule {rule.pk} (enabled)" in out
    assert rule.endpoint == endpoint and rule.threshold == 0.3
    assert [channel.name for channel in rule.channels.all()] == ["pager"]

    run("rules", "edit", str(rule.pk), "--severity", "critical", "--threshold", "0.25")
    rule.refresh_from_db()
    assert (rule.severity, rule.threshold, rule.metric) == ("critical", 0.25, "distinct_2")
    assert [channel.name for channel in rule.channels.all()] == ["pager"]

    run("rules", "disable", str(rule.pk))
    rule.refresh_from_db()
    assert not rule.enabled
    listed = run("rules", "list", "--endpoint", "bot-v1")
    assert f"{rule.pk}\tno\tcritical\tendpoint bot-v1\tpager\tdistinct_2 < 0.25" in listed
    assert len(listed.splitlines()) == 1 + AlertRule.objects.filter(endpoint=endpoint).count()


def test_rules_refuse_what_the_rule_page_refuses(endpoint):
    with pytest.raises(CommandError, match="threshold: A threshold rule needs a threshold"):
        run("rules", "add", "--kind", "threshold", "--metric", "distinct_2")
    with pytest.raises(CommandError, match="metric: Select a valid choice"):
        run("rules", "add", "--kind", "drop", "--metric", "no_such_metric")
    with pytest.raises(CommandError, match="a new rule needs --kind"):
        run("rules", "add", "--metric", "distinct_2")
    with pytest.raises(CommandError, match="no alert rule with id 999999"):
        run("rules", "disable", "999999")
    with pytest.raises(CommandError, match="no channel named 'nope'"):
        rule = AlertRule.objects.filter(endpoint=endpoint).first()
        run("rules", "edit", str(rule.pk), "--channels", "nope")
    assert not AlertRule.objects.filter(kind="threshold").exists()


# exports ------------------------------------------------------------------------------------
@pytest.fixture
def scored(settings):
    settings.TAILWATCH_EMBEDDINGS = False
    endpoint = make_endpoint(
        "http://127.0.0.1:9/v1", name="bot-v1", prompt_set=make_prompt_set(3, 0)
    )
    return endpoint, [make_scored_run(endpoint, seed, 1000) for seed in (1, 2)]


def test_export_samples_writes_one_json_object_per_sample(scored):
    endpoint, (_, second) = scored
    lines = run("export", "samples", "--run", str(second.pk)).splitlines()
    rows = [json.loads(line) for line in lines]
    stored = Sample.objects.filter(run=second).order_by("prompt__position", "sample_index")
    assert [row["text"] for row in rows] == [sample.text for sample in stored]
    assert {row["run"] for row in rows} == {second.pk}
    assert rows[0]["endpoint"] == "bot-v1" and rows[0]["prompt"] == "open-0"
    everything = run("export", "samples", "--endpoint", "bot-v1").splitlines()
    assert len(everything) == Sample.objects.filter(run__endpoint=endpoint).count() == 12
    later = run("export", "samples", "--since", (timezone.now() + timedelta(days=1)).isoformat())
    assert later == ""


@pytest.mark.parametrize(
    "flag, moment",
    [("--since", "0001-01-01T00:00:00+14:00"), ("--until", "9999-12-31T23:59:59-14:00")],
)
def test_export_refuses_a_moment_beyond_the_years_utc_can_hold(scored, flag, moment):
    for kind in ("samples", "series"):
        with pytest.raises(CommandError, match=f"{flag}: .* is out of range: in UTC"):
            run("export", kind, "--endpoint", "bot-v1", flag, moment)


def test_export_series_writes_csv_of_the_points(scored, tmp_path):
    endpoint, runs = scored
    target = tmp_path / "series.csv"
    run("export", "series", "--endpoint", "bot-v1", "--metric", "distinct_2",
        "--output", str(target))  # fmt: skip
    rows = list(csv.DictReader(target.open()))
    points = MetricPoint.objects.filter(endpoint=endpoint, metric="distinct_2").order_by("time")
    assert [float(row["value"]) for row in rows] == [point.value for point in points]
    assert [int(row["run"]) for row in rows] == [run.pk for run in runs]
    assert rows[0]["time"] == points[0].time.isoformat()


def test_export_refuses_a_bad_range_metric_or_run(scored):
    with pytest.raises(CommandError, match="--since: Give an ISO 8601 date or date and time"):
        run("export", "samples", "--since", "yesterday")
    with pytest.raises(CommandError, match="--since must be before --until"):
        run("export", "series", "--endpoint", "bot-v1", "--since", "2026-02-01",
            "--until", "2026-01-01")  # fmt: skip
    with pytest.raises(CommandError, match="invalid choice: 'nope'"):
        run("export", "series", "--endpoint", "bot-v1", "--metric", "nope")
    with pytest.raises(CommandError, match="no run with id 999999"):
        run("export", "samples", "--run", "999999")
