"""The monitor's Celery app, for a worker that is SIGKILLed the first time an alert rule finds a
breach: after the rule's verdict is written in the open transaction, before the alert is. Start
it with ``celery -A tests.integration.dying_worker worker``."""

import os
import signal

from celery import signals

from monitor.celery import app

__all__ = ["app"]


@signals.worker_ready.connect
def die_before_writing_an_alert(**_: object) -> None:
    from monitor.services import alerting

    real_apply = alerting.apply

    def apply(rule, run, evaluation, *args, **kwargs):
        if evaluation.breached:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_apply(rule, run, evaluation, *args, **kwargs)

    alerting.apply = apply
