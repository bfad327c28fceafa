"""Rows for export: samples (JSONL) and metric points (CSV), read in chunks to stream."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from monitor.models import Endpoint, MetricPoint, Run, Sample

CHUNK_ROWS = 2000
SAMPLE_FIELDS = {
    "run": "run_id",
    "endpoint": "run__endpoint__name",
    "prompt": "prompt__key",
    "prompt_kind": "prompt__kind",
    "sample_index": "sample_index",
    "text": "text",
    "finish_reason": "finish_reason",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "latency_ms": "latency_ms",
    "attempts": "attempts",
    "error_kind": "error_kind",
    "error": "error",
    "created_at": "created_at",
}
POINT_FIELDS = {
    "endpoint": "endpoint__name",
    "metric": "metric",
    "time": "time",
    "value": "value",
    "ci_low": "ci_low",
    "ci_high": "ci_high",
    "n": "n",
    "run": "run_id",
}


def samples_to_export(
    endpoint: Endpoint | None = None,
    run: Run | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[dict]:
    """Samples (without embeddings), run by run in prompt order, as dicts of SAMPLE_FIELDS."""
    samples = Sample.objects.all()
    if endpoint is not None:
        samples = samples.filter(run__endpoint=endpoint)
    if run is not None:
        samples = samples.filter(run=run)
    if since is not None:
        samples = samples.filter(created_at__gte=since)
    if until is not None:
        samples = samples.filter(created_at__lt=until)
    rows = samples.order_by("run_id", "prompt__position", "sample_index").values_list(
        *SAMPLE_FIELDS.values()
    )
    for row in rows.iterator(chunk_size=CHUNK_ROWS):
        sample = dict(zip(SAMPLE_FIELDS, row, strict=True))
        sample["created_at"] = sample["created_at"].isoformat()
        yield sample


def points_to_export(
    endpoint: Endpoint,
    metrics: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[tuple]:
    """The endpoint's metric points, metric by metric and oldest first: POINT_FIELDS tuples."""
    points = MetricPoint.objects.filter(endpoint=endpoint)
    if metrics:
        points = points.filter(metric__in=metrics)
    if since is not None:
        points = points.filter(time__gte=since)
    if until is not None:
        points = points.filter(time__lt=until)
    rows = points.order_by("metric", "time").values_list(*POINT_FIELDS.values())
    time = list(POINT_FIELDS).index("time")
    for row in rows.iterator(chunk_size=CHUNK_ROWS):
        yield (*row[:time], row[time].isoformat(), *row[time + 1 :])
