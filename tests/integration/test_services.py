"""The production stack: the suite really ran on PostgreSQL and Redis when CI said so."""

import os
import uuid

import pytest
from django.conf import settings
from django.db import IntegrityError, connection
from kombu import Connection

from monitor.models import Sample
from monitor.services.sampling import start_run
from tests.conftest import require_service
from tests.factories import make_endpoint


def test_the_suite_runs_on_postgresql():
    require_service("PostgreSQL", bool(os.environ.get("TEST_DATABASE_URL")))
    assert connection.vendor == "postgresql"


def test_the_broker_is_redis_and_carries_messages():
    require_service("Redis", bool(os.environ.get("REDIS_URL")))
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=5) as conn:
        queue = conn.SimpleQueue(f"tailwatch-test-{uuid.uuid4().hex}")
        queue.put({"ping": 1})
        message = queue.get(timeout=5)
        message.ack()
        assert message.payload == {"ping": 1}
        queue.queue.delete()
        queue.close()


@pytest.mark.django_db
def test_the_database_enforces_one_sample_per_slot():
    # The no-duplicates guarantee rests on the database, so it is checked on the real one too.
    run = start_run(make_endpoint("http://127.0.0.1:9/v1"))
    prompt = run.prompt_set_version.prompts.first()
    Sample.objects.create(run=run, prompt=prompt, sample_index=0, text="a")
    with pytest.raises(IntegrityError):
        Sample.objects.create(run=run, prompt=prompt, sample_index=0, text="b")
