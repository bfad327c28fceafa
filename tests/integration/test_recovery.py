"""Verdicts are never lost: on real workers and a real broker, a worker killed mid-evaluation,
a broker outage as a run finishes, and a version that finishes before its baseline each end
with the run scored and judged, and an alert that fires exactly once."""

import os
import shutil
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from monitor import tasks
from monitor.fake_llm import FakeBehaviour, FakeLLMServer
from monitor.models import (
    Alert,
    AlertEvent,
    AlertRule,
    AlertState,
    Channel,
    Endpoint,
    MetricPoint,
    RuleKind,
    RunStage,
)
from monitor.services import sampling
from tests.conftest import REQUIRE_SERVICES, run_through_pipeline, wait_for, wait_until_alerted
from tests.factories import blandness_against, make_endpoint, make_prompt_set
from tests.integration.conftest import FAST_WORKER, collapsed_reply
from tests.integration.outage import RedisServer, TcpProxy

pytestmark = [pytest.mark.integration]


@pytest.fixture
def endpoint(fake_llm):
    """A paused endpoint (the dispatcher starts no run of it) with one drop rule."""
    endpoint = make_endpoint(
        fake_llm.url,
        prompt_set=make_prompt_set(open_prompts=20, probes=0),
        samples_per_prompt=3,
        enabled=False,
    )
    AlertRule.objects.filter(endpoint=endpoint).delete()
    AlertRule.objects.create(endpoint=endpoint, kind=RuleKind.DROP, metric="distinct_2")
    return endpoint


def fired_events(endpoint) -> list[AlertEvent]:
    return list(AlertEvent.objects.filter(alert__endpoint=endpoint, kind="fired"))


def test_a_worker_killed_while_judging_still_fires_the_alert_once(
    celery_processes, fake_llm, endpoint, smtp
):
    Channel.objects.create(name="ml-ops", kind="email", target="ml-ops@example.org")
    dying_app = "tests.integration.dying_worker"
    dying = celery_processes.worker(app=dying_app, EMAIL_URL=smtp.url, **FAST_WORKER)
    run_through_pipeline(endpoint)  # the baseline: nothing breached, nothing killed

    fake_llm.behaviour.reply = collapsed_reply
    collapsed = sampling.start_run(endpoint)
    wait_for(lambda: dying.poll() is not None, timeout=60)  # killed as it judged the breach
    collapsed.refresh_from_db()
    assert collapsed.scored_at and collapsed.alerts_evaluated_at is None
    assert not Alert.objects.exists() and not collapsed.rule_evaluations.exists()

    celery_processes.worker(EMAIL_URL=smtp.url, **FAST_WORKER)
    tasks.dispatch_due_runs.delay()  # a beat tick: finds the stalled evaluation
    wait_until_alerted(collapsed, timeout=60)

    assert [event.run_id for event in fired_events(endpoint)] == [collapsed.pk]
    assert Alert.objects.get().state == AlertState.FIRING
    assert collapsed.rule_evaluations.get().outcome == "breached"
    assert len(smtp.messages) == 1 and smtp.messages[0]["Subject"].endswith("is firing")
    collapsed.refresh_from_db()
    assert collapsed.stage == RunStage.EVALUATED and collapsed.stage_requeues == 1


@pytest.fixture
def broker_proxy(settings) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy between workers and Redis, to cut and restore, and the broker URL through it."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        message = "needs Redis: set REDIS_URL (the outage is cut between a worker and Redis)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    broker = urlsplit(settings.CELERY_BROKER_URL)
    proxy = TcpProxy((broker.hostname, broker.port or 6379)).start()
    yield proxy, broker._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
    proxy.cut()  # its forwarding threads live as long as the test process


def tick_once_the_grace_has_passed(run) -> None:
    """The dispatcher moves on a stage that has not moved for the grace period (1 s here): tick
    it once that has passed, as beat's next tick would."""
    run.refresh_from_db()
    since = (timezone.now() - (run.stage_queued_at or run.finished_at)).total_seconds()
    time.sleep(max(0.0, 1.5 - since))
    tasks.dispatch_due_runs.delay()


def test_a_run_that_finishes_while_the_broker_is_down_is_judged_when_it_returns(
    celery_processes, fake_llm, endpoint, broker_proxy
):
    proxy, via_proxy = broker_proxy
    celery_processes.worker(CELERY_BROKER_URL=via_proxy, **FAST_WORKER)
    fake_llm.behaviour.latency = 0.15  # 60 requests, 3 at a time: about 3 s of sampling

    run = sampling.start_run(endpoint)
    wait_for(lambda: run.refresh_from_db() or run.status == "running", timeout=60)
    proxy.cut()
    try:
        # The run finishes with no broker to hand its scoring to: publishing fails, retries
        # included, and the sampling task fails with it.
        wait_for(lambda: celery_processes.logged("OperationalError"), timeout=60)
        run.refresh_from_db()
        assert run.status == "succeeded" and run.scored_at is None
    finally:
        proxy.restore()

    tick_once_the_grace_has_passed(run)  # the worker takes it once reconnected
    wait_until_alerted(run, timeout=60)
    assert run.scored_at and run.stage == RunStage.EVALUATED
    assert MetricPoint.objects.filter(run=run, metric="distinct_2").exists()
    # The dispatcher, not a redelivered message, moved it on.
    assert celery_processes.logged(f"run {run.pk}: Sampled: scoring next stalled")


@pytest.fixture
def own_redis(tmp_path, unused_port) -> Iterator[RedisServer]:
    """A Redis server of the test's own, on a free port, to stop and start again."""
    binary = shutil.which("redis-server")
    if not (os.environ.get("REDIS_URL") and binary):
        message = "needs Redis: set REDIS_URL, with redis-server on the PATH to stop and restart"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(binary, unused_port, tmp_path / "redis.log").start()
    yield server
    server.stop()


def test_worker_and_beat_outlive_a_redis_outage_with_a_run_in_flight(
    celery_processes, fake_llm, endpoint, own_redis
):
    # As `make up` runs them on Redis (the Procfile's threads pool), beat ticking every second:
    # its first tick starts the endpoint's run.
    broker = {"CELERY_BROKER_URL": own_redis.url, "TAILWATCH_DISPATCH_INTERVAL_SECONDS": "1"}
    worker = celery_processes.worker(pool="threads", **broker, **FAST_WORKER)
    beat = celery_processes.beat(**broker, **FAST_WORKER)
    fake_llm.behaviour.latency = 0.15  # 60 requests, 3 at a time: about 3 s of sampling
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=True)

    def settled(stage: str):
        def reached_or_exited():
            run.refresh_from_db()
            return getattr(run, stage) or worker.poll() is not None or beat.poll() is not None

        reached_or_exited.__doc__ = f"the run has its {stage}, or a process exited"
        return reached_or_exited

    run = wait_for(lambda: endpoint.runs.filter(status="running").first(), timeout=60)
    own_redis.stop()
    try:
        wait_for(settled("finished_at"), timeout=60)
        assert celery_processes.logged("Connection to broker lost")
        # A worker that gave up lets its tasks finish first, then exits.
        assert not celery_processes.logged("Unrecoverable error")
        assert run.status == "succeeded" and run.samples_succeeded == 60
    finally:
        own_redis.restart()

    # Redis came back empty; the worker and beat reconnect, and the dispatcher queues the
    # scoring the run could not queue as it finished.
    wait_for(settled("alerts_evaluated_at"), timeout=60)
    assert worker.poll() is None and beat.poll() is None, "a process exited on the outage"
    assert run.scored_at and run.stage == RunStage.EVALUATED


def test_a_version_that_finishes_before_its_baseline_waits_then_fires_once(
    celery_processes, endpoint, smtp
):
    Channel.objects.create(name="ml-ops", kind="email", target="ml-ops@example.org")
    old = endpoint
    with FakeLLMServer(FakeBehaviour(seed=3, reply=collapsed_reply)) as collapsed_model:
        # Registered together: the new version names the old one as its baseline endpoint.
        new = make_endpoint(
            collapsed_model.url,
            name="model-a-v2",
            version_label="v2",
            prompt_set=old.prompt_set,
            samples_per_prompt=3,
            baseline_endpoint=old,
            enabled=False,
        )
        AlertRule.objects.filter(endpoint=new).exclude(kind=RuleKind.DOWN).delete()
        AlertRule.objects.create(endpoint=new, kind=RuleKind.DROP, metric="distinct_2")
        celery_processes.worker(EMAIL_URL=smtp.url, **FAST_WORKER)

        candidate = sampling.start_run(new)

        def waiting():
            """the new version was scored and judged by every rule that needs no baseline"""
            candidate.refresh_from_db()
            return candidate.awaits_baseline and candidate.rule_evaluations.exists()

        wait_for(waiting, timeout=60)
        assert candidate.stage == RunStage.WAITING_FOR_BASELINE
        assert not MetricPoint.objects.filter(run=candidate, metric="blandness_index").exists()
        assert not Alert.objects.exists()

        baseline = run_through_pipeline(old)
        wait_until_alerted(candidate, timeout=60)

    assert [event.run_id for event in fired_events(new)] == [candidate.pk]
    assert not Alert.objects.filter(endpoint=old).exists()
    assert len(smtp.messages) == 1
    stored = MetricPoint.objects.get(run=candidate, metric="blandness_index")
    assert stored.value > 0 and stored.value == pytest.approx(
        blandness_against(candidate, baseline)
    )
