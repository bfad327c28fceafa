"""Provenance scans: how much of a corpus is our models' output, and what it would do to the
tails. ``scan_file`` is the scan of a file (``manage.py scan`` calls it); ``start_scan`` and
``run_scan`` are the same as a background job for the web UI.

A scan's worker holds it through a lease (``services/jobs.py``): it renews the lease while it
publishes progress, stops when another worker has taken the scan over, and the dispatcher hands
a scan whose worker died to another (``requeue_stale_scans``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from monitor import queue
from monitor.models import Endpoint, Sample, Scan
from monitor.services import jobs, provenance_index
from monitor.services.corpus_scan import (
    SAMPLE_SIZE,
    SHOWN_CHARACTERS,
    CorpusScan,
    Sinks,
    scan_lines,
)
from monitor.services.corpus_signs import (
    missing_rare_words,
    profile_reference,
    read_lines,
    warning_signs,
)

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0

Progress = Callable[[CorpusScan, float], None]


class ScanLeaseLostError(Exception):
    """Another worker took the scan over."""


def scan_file(
    corpus: Path,
    reference: Path | None = None,
    threshold: float | None = None,
    filtered: Path | None = None,
    manifest: Path | None = None,
    on_progress: Progress | None = None,
) -> dict:
    """Scan ``corpus`` against every stored model output (and ``reference``, if named);
    write the filtered corpus and its manifest where asked. Returns the report."""
    threshold = settings.TAILWATCH_SCAN_THRESHOLD if threshold is None else threshold
    provenance_index.catch_up()
    index = provenance_index.load_index(threshold)
    max_line_bytes = settings.TAILWATCH_SCAN_MAX_LINE_BYTES
    profile = None
    if reference is not None:
        with open(reference, "rb") as stream:
            profile = profile_reference(
                read_lines(stream, max_line_bytes), SAMPLE_SIZE, provenance_index.words
            )
    size = max(1, corpus.stat().st_size)
    with ExitStack() as files:
        stream = files.enter_context(open(corpus, "rb"))
        sinks = Sinks(
            filtered=files.enter_context(open(filtered, "wb")) if filtered else None,
            manifest=files.enter_context(open(manifest, "w")) if manifest else None,
        )
        scan = CorpusScan(index, threshold, sinks, profile)

        def progress(scan: CorpusScan) -> None:
            if on_progress is not None:
                on_progress(scan, min(1.0, stream.tell() / size))

        scan_lines(read_lines(stream, max_line_bytes), scan, progress)
    report = scan.summary()
    report["warning_signs"] = warning_signs(
        scan.reservoir.texts, profile.sample if profile else None
    )
    report["rare_words"] = missing_rare_words(profile, scan.rare_seen) if profile else None
    if profile is not None:
        report["reference_documents"] = profile.documents
    return describe(report)


def describe(report: dict) -> dict:
    """Name the endpoints and show the stored outputs that the report refers to by id."""
    outputs = report["model_outputs"]
    endpoint_ids = {row["endpoint_id"] for row in outputs["by_endpoint"]}
    endpoints = {endpoint.pk: endpoint for endpoint in Endpoint.objects.filter(pk__in=endpoint_ids)}
    for row in outputs["by_endpoint"]:
        row.update(_endpoint_fields(endpoints.get(row["endpoint_id"])))
    sample_ids = [pair["sample_id"] for pair in outputs["pairs"]]
    samples = Sample.objects.filter(pk__in=sample_ids).select_related("run__endpoint")
    by_id = {sample.pk: sample for sample in samples}
    for pair in outputs["pairs"]:
        sample = by_id.get(pair["sample_id"])
        pair["output"] = sample.text[:SHOWN_CHARACTERS] if sample else ""
        pair["run_id"] = sample.run_id if sample else None
        pair.update(_endpoint_fields(sample.run.endpoint if sample else None))
    return report


def _endpoint_fields(endpoint: Endpoint | None) -> dict:
    if endpoint is None:
        return {"endpoint": "(deleted)", "model": "", "version": ""}
    return {"endpoint": endpoint.name, "model": endpoint.model, "version": endpoint.version_label}


def start_scan(corpus: UploadedFile, reference: UploadedFile | None, threshold: float) -> Scan:
    """Keep the uploads in a directory of the scan's own, and queue the scan."""
    directory = Path(settings.TAILWATCH_SCAN_DIR) / uuid.uuid4().hex
    directory.mkdir(parents=True, mode=0o700)
    corpus_path = _save(corpus, directory / "corpus")
    reference_path = _save(reference, directory / "reference") if reference else None
    scan = Scan.objects.create(
        corpus_name=corpus.name[:255],
        corpus_path=str(corpus_path),
        reference_name=reference.name[:255] if reference else "",
        reference_path=str(reference_path or ""),
        threshold=threshold,
    )
    transaction.on_commit(lambda: queue.run_scan(scan.pk))
    return scan


def _save(upload: UploadedFile, path: Path) -> Path:
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


def claim_scan(scan_id: int, token: str, now: datetime | None = None) -> Scan | None:
    """Take the scan for this worker, unless it is finished or a live worker holds it; a
    scan taken over starts reading its corpus again."""
    return jobs.claim(Scan, scan_id, token, now, progress=0.0)


def run_scan(scan_id: int) -> Scan | None:
    """Run the scan to its end; None when there was nothing to do or the lease was lost."""
    token = uuid.uuid4().hex
    scan = claim_scan(scan_id, token)
    if scan is None:
        return None
    publish = _publisher(scan, token)
    try:
        report = scan_file(
            Path(scan.corpus_path),
            Path(scan.reference_path) if scan.reference_path else None,
            scan.threshold,
            Path(scan.filtered_path),
            Path(scan.manifest_path),
            publish,
        )
    except ScanLeaseLostError:
        return None
    except (OSError, ValueError) as exc:
        # A file gone missing or a corpus the evaluators refuse: the user reads why.
        log.warning("scan %s failed: %r", scan_id, exc)
        return _finish(scan, token, error=f"{type(exc).__name__}: {exc}")
    return _finish(scan, token, report=report)


def _publisher(scan: Scan, token: str) -> Progress:
    last = [time.monotonic()]

    def publish(corpus_scan: CorpusScan, progress: float) -> None:
        if time.monotonic() - last[0] < PROGRESS_EVERY_SECONDS:
            return
        last[0] = time.monotonic()
        renewed = Scan.objects.filter(pk=scan.pk, lease_token=token).update(
            lease_expires_at=timezone.now() + Scan.lease_length(),
            progress=progress,
            **_counts(corpus_scan),
        )
        if not renewed:
            raise ScanLeaseLostError

    return publish


def _counts(corpus_scan: CorpusScan) -> dict[str, int]:
    return {
        "documents": corpus_scan.documents,
        "matched": corpus_scan.matched,
        "duplicates": corpus_scan.duplicates,
        "malformed": corpus_scan.malformed,
    }


def _finish(scan: Scan, token: str, report: dict | None = None, error: str = "") -> Scan:
    counts = {}
    if report is not None:
        counts = {
            "documents": report["documents"],
            "matched": report["model_outputs"]["count"],
            "duplicates": report["duplicates"]["any"]["count"],
            "malformed": report["malformed"]["count"],
            "progress": 1.0,
        }
    return jobs.finish(scan, token, error=error, result=report, **counts)


def requeue_stale_scans(now: datetime | None = None) -> list[Scan]:
    """Queue again the scans whose worker died or whose message was lost; give up on a scan
    that has worn out its attempts."""
    return jobs.requeue_stale(Scan, queue.run_scan, now)
