"""The Celery app: queues, reliability settings and the beat schedule.

Sampling is I/O-bound and scoring CPU-bound (embeddings): each has its own queue, so a deployment
can give sampling many light workers and move scoring to machines with the cores (or GPUs).
"""

import os

from celery import Celery
from celery.signals import worker_init
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")

app = Celery("tailwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

SAMPLING_QUEUE = "sampling"
SCORING_QUEUE = "scoring"
DEFAULT_QUEUE = "default"

app.conf.update(
    task_default_queue=DEFAULT_QUEUE,
    task_queues=[Queue(DEFAULT_QUEUE), Queue(SAMPLING_QUEUE), Queue(SCORING_QUEUE)],
    task_routes={
        "monitor.tasks.sample_run": {"queue": SAMPLING_QUEUE},
        "monitor.tasks.score_run": {"queue": SCORING_QUEUE},
        # The compare page's significance test costs what scoring both runs does.
        "monitor.tasks.compare_runs": {"queue": SCORING_QUEUE},
        # CPU-bound too: a lab chain trains for seconds to a minute.
        "monitor.tasks.train_lab_generation": {"queue": SCORING_QUEUE},
        "monitor.tasks.run_scan": {"queue": SCORING_QUEUE},
    },
    # At-least-once: a message is acknowledged only after its task returns, and a worker takes
    # one message at a time, so a killed worker loses nothing it had not started.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    # A broker outage never ends a worker or beat: they retry the connection for as long as it
    # lasts (Redis going away mid-task is handled in monitor/broker.py). A task in flight runs
    # on and stores its work; the message it could not acknowledge is redelivered later and
    # finds nothing left to do, and a step it could not queue is queued again by the dispatcher.
    broker_connection_retry_on_startup=True,
    broker_connection_retry=True,
    broker_connection_max_retries=None,
    worker_cancel_long_running_tasks_on_connection_loss=False,
    worker_hijack_root_logger=False,
    timezone="UTC",
)


@app.on_after_finalize.connect
def schedule_dispatcher(sender: Celery, **_: object) -> None:
    from django.conf import settings

    # One fixed beat entry; which endpoints are due is read from the database on every tick, so
    # editing an endpoint's interval takes effect without restarting beat.
    sender.add_periodic_task(
        float(settings.TAILWATCH_DISPATCH_INTERVAL_SECONDS),
        sender.signature("monitor.tasks.dispatch_due_runs"),
        name="dispatch due runs",
    )


@worker_init.connect
def keep_concurrency(sender, **_: object) -> None:
    """Keep the worker's concurrency (``--concurrency`` is not in the configuration) where its
    tasks read their share of the cores from (see ``scoring.torch_threads``). ``auto`` sizes the
    pool to the cores."""
    concurrency = sender.concurrency
    sender.app.conf.worker_concurrency = (
        concurrency if isinstance(concurrency, int) else os.cpu_count()
    )
