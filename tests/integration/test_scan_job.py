"""A provenance scan on a real Celery worker: the outputs of a run it sampled are found in an
uploaded corpus."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from monitor.models import JobStatus, OutputSignature, RunStatus
from monitor.services import sampling, scans
from tests.conftest import wait_for
from tests.factories import english_texts, make_endpoint

pytestmark = [pytest.mark.integration]


def test_a_worker_scans_an_upload_for_the_outputs_of_a_run_it_sampled(celery_processes, fake_llm):
    celery_processes.worker(TAILWATCH_BACKOFF_BASE_SECONDS="0.01")
    endpoint = make_endpoint(fake_llm.url, name="support-bot")
    run = sampling.start_run(endpoint)

    def sampled():
        """the run finished and its outputs are in the index"""
        run.refresh_from_db()
        return run.status == RunStatus.SUCCEEDED and OutputSignature.objects.exists()

    wait_for(sampled, timeout=60)
    copied = run.samples.exclude(text="").first().text
    others = [text for prompt in english_texts(8, 5000, 9, 1, 60) for text in prompt]
    corpus = "".join(json.dumps({"text": text}) + "\n" for text in [copied, *others])
    scan = scans.start_scan(SimpleUploadedFile("crawl.jsonl", corpus.encode()), None, 0.8)

    def scanned():
        """the scan finished"""
        scan.refresh_from_db()
        return scan.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    wait_for(scanned, timeout=120)
    assert scan.status == JobStatus.SUCCEEDED, scan.error
    assert (scan.documents, scan.matched, scan.progress) == (10, 1, 1.0)
    assert [row["endpoint"] for row in scan.result["model_outputs"]["by_endpoint"]] == [
        "support-bot"
    ]
