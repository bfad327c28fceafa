"""/metrics: the Prometheus exporter, scraped and parsed as Prometheus parses it."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from monitor.clients.openai_compatible import Completion, CompletionFailure
from monitor.models import Alert, AlertRule, AlertState, MetricPoint, Run, RunStatus, Sample
from monitor.services import sampling
from tests.conftest import REPO
from tests.factories import make_endpoint, make_scored_run

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-0123456789"


@pytest.fixture
def scrape(client, settings):
    settings.TAILWATCH_METRICS_TOKEN = TOKEN

    def get() -> dict[str, list]:
        # The scheme's case does not matter (RFC 9110).
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        families = text_string_to_metric_families(response.content.decode())
        return {family.name: family.samples for family in families}

    return get


def _by_labels(samples, name: str, **labels) -> float:
    (value,) = [
        sample.value
        for sample in samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]
    return value


def test_without_a_configured_token_the_exporter_is_off(client, settings):
    settings.TAILWATCH_METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 404
    assert b"TAILWATCH_METRICS_TOKEN" in response.content


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN]
)
def test_a_missing_or_wrong_token_is_refused(client, settings, header):
    settings.TAILWATCH_METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_latest_values_and_intervals_are_those_of_the_newest_points(scrape, versions):
    old, new = versions
    make_scored_run(old, seed=1, vocabulary=2000)
    latest_old = make_scored_run(old, seed=2, vocabulary=2000)
    make_scored_run(new, seed=3, vocabulary=300)

    families = scrape()

    for endpoint in (old, new):
        points = MetricPoint.objects.filter(endpoint=endpoint)
        newest = {point.metric: point for point in points.order_by("time", "pk")}
        exposed = [
            sample
            for sample in families["tailwatch_metric_value"]
            if sample.labels["endpoint"] == endpoint.name
        ]
        assert {sample.labels["metric"] for sample in exposed} == set(newest)
        for sample in exposed:
            point = newest[sample.labels["metric"]]
            assert sample.labels["family"] == endpoint.model_family
            assert sample.labels["version"] == endpoint.version_label
            assert sample.value == pytest.approx(point.value)
            if point.ci_low is not None:
                low = families["tailwatch_metric_ci_low"]
                assert _by_labels(low, "tailwatch_metric_ci_low", **sample.labels) == (
                    pytest.approx(point.ci_low)
                )
    assert {point.run_id for point in MetricPoint.objects.filter(endpoint=old)} > {latest_old.pk}
    old_values = [s for s in families["tailwatch_metric_value"] if s.labels["endpoint"] == "v1"]
    latest_points = MetricPoint.objects.filter(run=latest_old)
    assert sorted(s.value for s in old_values) == pytest.approx(
        sorted(point.value for point in latest_points)
    )


def test_run_and_sample_counters_equal_the_stored_runs(scrape, versions):
    old, _ = versions
    run = make_scored_run(old, seed=1, vocabulary=2000)
    Run.objects.create(
        endpoint=old,
        prompt_set_version=run.prompt_set_version,
        trigger="manual",
        status=RunStatus.FAILED,
        samples_per_prompt=3,
        samples_failed=4,
    )

    families = scrape()

    runs = families["tailwatch_runs"]
    assert _by_labels(runs, "tailwatch_runs_total", endpoint="v1", status="succeeded") == 1
    assert _by_labels(runs, "tailwatch_runs_total", endpoint="v1", status="failed") == 1
    assert _by_labels(runs, "tailwatch_runs_total", endpoint="v2", status="succeeded") == 0
    active = families["tailwatch_runs_active"]
    assert _by_labels(active, "tailwatch_runs_active", endpoint="v1", status="queued") == 0
    samples = families["tailwatch_samples"]
    ok = Sample.objects.filter(run__endpoint=old, error="").count()
    assert ok == run.samples_succeeded > 0
    assert _by_labels(samples, "tailwatch_samples_total", endpoint="v1", outcome="ok") == ok
    assert _by_labels(samples, "tailwatch_samples_total", endpoint="v1", outcome="failed") == 4


def _finished_run_with_latencies(endpoint, latencies_ms: list[int]) -> Run:
    """A run of one sample per prompt that took the given times, finished as a worker would."""
    run = sampling.start_run(endpoint)
    prompts = run.prompt_set_version.prompts.all()
    for prompt, latency in zip(prompts, latencies_ms, strict=False):
        sampling.record_sample(run, prompt, 0, Completion("text", "stop", 5, 40, latency, 1))
    Run.objects.filter(pk=run.pk).update(lease_token="test-worker")
    return sampling.finish_run(run, "test-worker")


def test_histograms_bucket_the_sample_latencies_and_scoring_times(scrape, versions):
    old, _ = versions
    # ms: under 0.5 s, under 5 s, over every bound; and one failed sample, timed too.
    run = _finished_run_with_latencies(old, [300, 4000, 200_000])
    prompt = run.prompt_set_version.prompts.last()
    failure = CompletionFailure("timeout", "timed out", 2, 700, retryable=True)
    sampling.record_sample(run, prompt, 0, failure)
    Run.objects.filter(pk=run.pk).update(latency_histogram=run.count_latencies())
    Run.objects.filter(pk=run.pk).update(scored_at=run.finished_at + timedelta(seconds=20))

    families = scrape()

    latency = families["tailwatch_sample_latency_seconds"]
    name = "tailwatch_sample_latency_seconds"
    assert _by_labels(latency, f"{name}_bucket", endpoint="v1", le="0.25") == 0
    assert _by_labels(latency, f"{name}_bucket", endpoint="v1", le="0.5") == 1
    assert _by_labels(latency, f"{name}_bucket", endpoint="v1", le="1.0") == 2
    assert _by_labels(latency, f"{name}_bucket", endpoint="v1", le="5.0") == 3
    assert _by_labels(latency, f"{name}_bucket", endpoint="v1", le="120.0") == 3
    assert _by_labels(latency, f"{name}_bucket", endpoint="v1", le="+Inf") == 4
    assert _by_labels(latency, f"{name}_count", endpoint="v1") == 4
    assert _by_labels(latency, f"{name}_sum", endpoint="v1") == pytest.approx(205.0)
    assert _by_labels(latency, f"{name}_count", endpoint="v2") == 0
    scoring = families["tailwatch_scoring_duration_seconds"]
    name = "tailwatch_scoring_duration_seconds"
    assert _by_labels(scoring, f"{name}_bucket", endpoint="v1", le="15.0") == 0
    assert _by_labels(scoring, f"{name}_bucket", endpoint="v1", le="30.0") == 1
    assert _by_labels(scoring, f"{name}_sum", endpoint="v1") == pytest.approx(20)
    assert _by_labels(scoring, f"{name}_count", endpoint="v2") == 0


def test_latencies_and_sample_counts_outlive_pruned_samples(scrape, versions):
    old, _ = versions
    _finished_run_with_latencies(old, [300, 4000])
    before = scrape()
    Sample.objects.all().delete()

    after = scrape()

    for family in ("tailwatch_sample_latency_seconds", "tailwatch_samples"):
        assert after[family] == before[family]
    samples, latency = after["tailwatch_samples"], after["tailwatch_sample_latency_seconds"]
    assert _by_labels(samples, "tailwatch_samples_total", endpoint="v1", outcome="ok") == 2
    assert _by_labels(latency, "tailwatch_sample_latency_seconds_count", endpoint="v1") == 2


def test_open_alerts_are_exposed_by_rule_and_resolved_ones_are_not(scrape, versions):
    old, new = versions
    drop, creep = (
        AlertRule.objects.filter(endpoint=new, kind=kind).first() for kind in ("drop", "creep")
    )
    Alert.objects.create(rule=drop, endpoint=new, state=AlertState.FIRING, summary="worse")
    Alert.objects.create(rule=creep, endpoint=new, state=AlertState.RESOLVED, summary="over")
    old.enabled = False
    old.save()

    families = scrape()

    (firing,) = families["tailwatch_alert_open"]
    assert firing.value == 1
    assert firing.labels == {
        "endpoint": "v2",
        "rule": str(drop.pk),
        "kind": "drop",
        "metric": drop.metric,
        "severity": drop.severity,
        "state": "firing",
    }
    enabled = families["tailwatch_endpoint_enabled"]
    assert _by_labels(enabled, "tailwatch_endpoint_enabled", endpoint="v1") == 0
    assert _by_labels(enabled, "tailwatch_endpoint_enabled", endpoint="v2") == 1


def test_a_scrape_makes_as_many_queries_for_many_endpoints_as_for_one(scrape, versions):
    old, _ = versions
    make_scored_run(old, seed=1, vocabulary=2000)
    with CaptureQueriesContext(connection) as few:
        scrape()
    for index in range(4):
        more = make_endpoint("http://127.0.0.1:9/v1", name=f"more-{index}")
        make_scored_run(more, seed=index, vocabulary=2000)
    with CaptureQueriesContext(connection) as many:
        families = scrape()
    assert len({s.labels["endpoint"] for s in families["tailwatch_metric_value"]}) == 5
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_grafana_dashboard_queries_only_exposed_series(scrape, versions):
    old, new = versions
    make_scored_run(old, seed=1, vocabulary=2000)
    rule = AlertRule.objects.filter(endpoint=new, kind="drop").first()
    Alert.objects.create(rule=rule, endpoint=new, state=AlertState.PENDING, summary="worse")
    exposed = {sample.name for samples in scrape().values() for sample in samples}

    dashboard = (REPO / "docs" / "grafana-dashboard.json").read_text()
    queried = set(re.findall(r"\btailwatch_[a-z0-9_]+", dashboard))

    assert queried, "the dashboard queries no Tailwatch series"
    assert queried <= exposed, f"not exposed: {sorted(queried - exposed)}"
