"""Scoring and alerting on real Celery workers: email over real SMTP, webhooks with retries."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor import tasks
from monitor.fake_llm import fake_reply
from monitor.models import (
    Alert,
    AlertRule,
    AlertState,
    Channel,
    MetricPoint,
    Notification,
    NotificationStatus,
    RuleKind,
)
from monitor.notifications import delivery
from tests.conftest import run_through_pipeline, wait_for
from tests.factories import make_endpoint, make_prompt_set
from tests.integration.conftest import FAST_WORKER, collapsed_reply

pytestmark = [pytest.mark.integration]


def test_a_collapse_fires_one_alert_one_email_and_recovery_one_resolve(
    celery_processes, fake_llm, smtp
):
    Channel.objects.create(name="ml-ops", kind="email", target="ml-ops@example.org")
    endpoint = make_endpoint(
        fake_llm.url, prompt_set=make_prompt_set(open_prompts=20, probes=0), samples_per_prompt=3
    )
    AlertRule.objects.filter(endpoint=endpoint).delete()
    AlertRule.objects.create(endpoint=endpoint, kind=RuleKind.DROP, metric="distinct_2")
    celery_processes.worker(EMAIL_URL=smtp.url, **FAST_WORKER)

    first = run_through_pipeline(endpoint)
    assert MetricPoint.objects.filter(run=first, metric="distinct_2").exists()
    run_through_pipeline(endpoint)  # a second healthy draw: within noise
    assert not Alert.objects.exists()

    fake_llm.behaviour.reply = collapsed_reply
    collapsed = run_through_pipeline(endpoint)
    assert len(smtp.messages) == 1
    alert = Alert.objects.get()
    assert alert.state == AlertState.FIRING and alert.events.get(kind="fired").run == collapsed

    fake_llm.behaviour.reply = fake_reply
    run_through_pipeline(endpoint)
    assert len(smtp.messages) == 2
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED

    fired, resolved = smtp.messages
    assert "distinct_2" in fired["Subject"] and fired["Subject"].endswith("is firing")
    assert resolved["Subject"].endswith("resolved")
    kinds = [part.get_content_type() for part in fired.walk()]
    assert {"text/plain", "text/html", "image/png"} <= set(kinds)
    html = fired.get_body(("html",)).get_content()
    assert 'src="cid:series-chart"' in html and "I am not able to help with that." in html
    image = next(part for part in fired.walk() if part.get_content_type() == "image/png")
    assert image["Content-ID"] == "<series-chart>"
    assert image.get_content().startswith(b"\x89PNG")
    assert Notification.objects.filter(status=NotificationStatus.SENT).count() == 2


class FlakyReceiver(BaseHTTPRequestHandler):
    """Answers 500 to the first two POSTs, then 200; records every body."""

    bodies: list[dict] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            self.bodies.append(body)
            status = 500 if len(self.bodies) <= 2 else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    FlakyReceiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", FlakyReceiver.bodies
    server.shutdown()
    server.server_close()


def test_a_webhook_that_fails_twice_is_delivered_exactly_once(celery_processes, receiver):
    url, bodies = receiver
    channel = Channel.objects.create(name="slack", kind="webhook", target=url)
    celery_processes.worker(**FAST_WORKER)

    notification = delivery.send_test(channel)

    def sent():
        """the notification was delivered"""
        notification.refresh_from_db()
        return notification.status == NotificationStatus.SENT

    wait_for(sent, timeout=60)
    assert notification.attempts == 3 and len(bodies) == 3
    assert "test notification" in bodies[-1]["text"]

    # A duplicated task for the same notification finds it claimed and sends nothing.
    tasks.send_notification.delay(notification.pk)
    tasks.send_notification.delay(notification.pk)
    probe = delivery.send_test(channel)  # a later message proves the queue has moved past them
    wait_for(lambda: Notification.objects.get(pk=probe.pk).status == "sent", timeout=60)
    assert len(bodies) == 4


def shrinking_vocabulary_reply(vocabulary: int):
    """Replies of 40 words from the ``vocabulary`` most common English words."""
    from wordfreq import top_n_list

    pool = top_n_list("en", vocabulary)

    def reply(prompt, rng) -> str:
        return " ".join(rng.choice(pool) for _ in range(40))

    return reply


def test_a_slow_decline_over_eight_runs_fires_blandness_creep(celery_processes, fake_llm):
    endpoint = make_endpoint(
        fake_llm.url, prompt_set=make_prompt_set(open_prompts=20, probes=0), samples_per_prompt=2
    )
    AlertRule.objects.filter(endpoint=endpoint).exclude(kind=RuleKind.CREEP).delete()
    celery_processes.worker(**FAST_WORKER)

    fired_at = []
    for step in range(8):
        # 8% fewer words each run: no single step stands out, the trend does.
        fake_llm.behaviour.reply = shrinking_vocabulary_reply(round(3000 * 0.92**step))
        run = run_through_pipeline(endpoint)
        if Alert.objects.filter(endpoint=endpoint, state=AlertState.FIRING).exists():
            fired_at.append(step)
    assert fired_at == [7]  # on the eighth run, when the trend test has its window
    alert = Alert.objects.get()
    assert alert.rule.metric == "blandness_index" and alert.events.get(kind="fired").run == run
