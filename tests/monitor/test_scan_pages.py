"""The scan pages: upload a corpus, the job runs, the report shows and the filtered corpus
downloads."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from monitor import queue, tasks
from monitor.models import JobStatus, Scan
from monitor.selectors.scans import scan_report
from tests.factories import english_texts, make_endpoint, make_finished_run, make_prompt_set

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert('copied')</script>"


@pytest.fixture(autouse=True)
def scan_dir(settings, tmp_path):
    settings.TAILWATCH_SCAN_DIR = tmp_path / "scans"


@pytest.fixture
def stored_outputs() -> list[str]:
    endpoint = make_endpoint(
        "http://127.0.0.1:9/v1",
        name="support-bot",
        samples_per_prompt=2,
        prompt_set=make_prompt_set(open_prompts=5, probes=0),
    )
    texts = english_texts(1, 5000, 5, 2, 50)
    texts[0][0] = f"{HOSTILE} {texts[0][0]}"
    make_finished_run(endpoint, texts)
    return [text for prompt in texts for text in prompt]


def upload(user_client, django_capture_on_commit_callbacks, lines: list[str], **fields):
    corpus = SimpleUploadedFile("crawl.jsonl", "".join(line + "\n" for line in lines).encode())
    with django_capture_on_commit_callbacks(execute=True):
        return user_client.post(
            reverse("scan-list"), {"corpus": corpus, "threshold": "0.8", **fields}
        )


def test_uploaded_corpus_is_scanned_and_reported(
    user_client, stored_outputs, enqueued, django_capture_on_commit_callbacks
):
    others = [text for prompt in english_texts(5, 5000, 8, 1, 50) for text in prompt]
    lines = [json.dumps({"text": text}) for text in stored_outputs[:2] + others] + ["{broken"]

    response = upload(user_client, django_capture_on_commit_callbacks, lines)

    scan = Scan.objects.get()
    assert response.status_code == 302 and response["Location"] == scan.get_absolute_url()
    assert enqueued == [(queue.RUN_SCAN, [scan.pk])]
    assert tasks.run_scan(scan.pk) == JobStatus.SUCCEEDED
    page = user_client.get(scan.get_absolute_url()).content.decode()
    assert "2 (20.0%, 95% CI" in page
    assert "support-bot" in page
    assert "line 11: not JSON" in page
    assert HOSTILE not in page and "&lt;script&gt;" in page
    progress = user_client.get(reverse("scan-progress", args=[scan.pk])).json()
    assert progress["active"] is False and progress["documents"] == 10
    report = scan_report(Scan.objects.get())
    assert report["report"]["model_outputs"]["count"] == 2
    # The REST API serves the same report, as the command's --json writes it.
    assert user_client.get(reverse("api-scan-detail", args=[scan.pk])).json() == json.loads(
        json.dumps(report)
    )
    assert user_client.get(reverse("api-scan-list")).json()["results"] == [
        json.loads(json.dumps(report))
    ]


def test_filtered_corpus_and_manifest_download(
    user_client, stored_outputs, django_capture_on_commit_callbacks
):
    others = [text for prompt in english_texts(6, 5000, 3, 1, 50) for text in prompt]
    lines = [json.dumps({"text": text}) for text in [stored_outputs[3], *others]]
    upload(user_client, django_capture_on_commit_callbacks, lines)
    scan = Scan.objects.get()
    tasks.run_scan(scan.pk)

    filtered = user_client.get(reverse("scan-download", args=[scan.pk, "filtered"]))
    manifest = user_client.get(reverse("scan-download", args=[scan.pk, "manifest"]))

    kept = b"".join(filtered.streaming_content).decode().splitlines()
    assert [json.loads(line)["text"] for line in kept] == others
    dropped = [json.loads(line) for line in b"".join(manifest.streaming_content).splitlines()]
    assert [(row["line"], row["reason"]) for row in dropped] == [(1, "model output")]
    missing = user_client.get(reverse("scan-download", args=[scan.pk, "secrets"]))
    assert missing.status_code == 404


def test_a_scan_of_a_vanished_file_fails_with_the_reason(
    user_client, django_capture_on_commit_callbacks
):
    upload(user_client, django_capture_on_commit_callbacks, ["one document"])
    scan = Scan.objects.get()
    Path(scan.corpus_path).unlink()

    assert tasks.run_scan(scan.pk) == JobStatus.FAILED
    page = user_client.get(scan.get_absolute_url()).content.decode()
    assert "The scan failed: FileNotFoundError" in page


def test_a_viewer_sees_scans_but_cannot_start_one(client, django_capture_on_commit_callbacks):
    from tests.factories import make_user

    client.force_login(make_user("viewer"))
    assert client.get(reverse("scan-list")).status_code == 200
    response = upload(client, django_capture_on_commit_callbacks, ["one document"])
    assert response.status_code == 403 and not Scan.objects.exists()


def test_a_bad_threshold_is_a_form_error(user_client, django_capture_on_commit_callbacks):
    response = upload(user_client, django_capture_on_commit_callbacks, ["text"], threshold="7")
    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 1.0" in response.content.decode()
    assert not Scan.objects.exists()


def test_a_scan_whose_worker_died_is_queued_again_then_given_up(
    user_client, enqueued, django_capture_on_commit_callbacks, settings
):
    import time_machine
    from django.utils import timezone

    from monitor.services import scans

    upload(user_client, django_capture_on_commit_callbacks, ["one document"])
    scan = Scan.objects.get()
    assert scans.claim_scan(scan.pk, "dead-worker") is not None
    # A live lease keeps a second worker off the scan.
    assert scans.claim_scan(scan.pk, "second-worker") is None
    enqueued.clear()

    lapsed = timezone.now() + timezone.timedelta(seconds=settings.TAILWATCH_RUN_LEASE_SECONDS + 1)
    with time_machine.travel(lapsed):
        assert tasks.dispatch_due_runs()["scans_requeued"] == [scan.pk]
    assert enqueued == [(queue.RUN_SCAN, [scan.pk])]

    Scan.objects.filter(pk=scan.pk).update(attempts=Scan.MAX_ATTEMPTS)
    with time_machine.travel(lapsed):
        assert tasks.dispatch_due_runs()["scans_requeued"] == []
    scan.refresh_from_db()
    assert scan.status == JobStatus.FAILED and "gave up" in scan.error


def test_a_nested_or_surrogate_line_is_malformed_and_the_scan_succeeds(
    user_client, django_capture_on_commit_callbacks
):
    nested = '{"text": "x", "a": ' + "[" * 200_000 + "]" * 200_000 + "}"
    lines = ['{"text": "one document"}', nested, '{"text": "\\ud800 lone"}']
    upload(user_client, django_capture_on_commit_callbacks, lines)
    scan = Scan.objects.get()

    assert tasks.run_scan(scan.pk) == JobStatus.SUCCEEDED
    page = user_client.get(scan.get_absolute_url()).content.decode()
    assert "line 2: not JSON: nested too deeply" in page
    assert "line 3: &quot;text&quot; holds a lone surrogate" in page


def test_an_upload_over_the_size_cap_is_a_form_error(
    settings, user_client, django_capture_on_commit_callbacks
):
    settings.TAILWATCH_SCAN_MAX_UPLOAD_BYTES = 10
    response = upload(user_client, django_capture_on_commit_callbacks, ["eleven bytes"])
    assert response.status_code == 200
    assert "over the 10 bytes an upload may be" in response.content.decode()
    assert not Scan.objects.exists()
