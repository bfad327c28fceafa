"""Score: turn a finished run's samples into the evaluators' report and stored metric points.

Every figure on the dashboard is a ``MetricPoint`` written here, from ``evaluators.score`` over
the run's successful samples; the full report (CIs, per-prompt breakdown) is kept on the run.
"""

from __future__ import annotations

import logging
from functools import cache

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

import evaluators
from monitor.models import MetricPoint, PromptKind, Run, RunStatus, Sample

log = logging.getLogger(__name__)

SCORABLE_STATUSES = (RunStatus.SUCCEEDED, RunStatus.PARTIAL)


class RunNotScorableError(Exception):
    pass


@cache
def encoder() -> evaluators.Encoder:
    """The embedding model, loaded once per worker process."""
    return evaluators.SentenceTransformerEncoder(settings.TAILWATCH_EMBEDDING_MODEL or None)


def successful_samples(run: Run) -> list[Sample]:
    return list(
        run.samples.filter(error="")
        .select_related("prompt")
        .order_by("prompt__position", "sample_index")
    )


def sample_embeddings(samples: list[Sample]) -> np.ndarray | None:
    """One embedding per sample: stored ones reused, missing ones computed and stored."""
    if not settings.TAILWATCH_EMBEDDINGS:
        return None
    missing = [sample for sample in samples if sample.embedding is None]
    if missing:
        vectors = encoder().encode([sample.text for sample in missing])
        for sample, vector in zip(missing, vectors, strict=True):
            sample.embedding = np.asarray(vector, dtype=np.float32).tobytes()
        Sample.objects.bulk_update(missing, ["embedding"], batch_size=500)
    return np.vstack([np.frombuffer(sample.embedding, dtype=np.float32) for sample in samples])


def run_batch(run: Run) -> evaluators.Batch:
    """The run's successful outputs as an evaluators batch (with embeddings when enabled)."""
    samples = successful_samples(run)
    if not samples:
        raise RunNotScorableError("the run has no successful samples")
    rows = [
        {
            "prompt_id": sample.prompt.key,
            "text": sample.text,
            "gold": sample.prompt.gold if sample.prompt.kind == PromptKind.PROBE else None,
            "popularity": sample.prompt.popularity
            if sample.prompt.kind == PromptKind.PROBE
            else None,
        }
        for sample in samples
    ]
    return evaluators.Batch.from_rows(rows, sample_embeddings(samples))


def _good_runs(endpoint_id: int, run: Run) -> QuerySet[Run]:
    """Runs of an endpoint fit to compare ``run`` with: succeeded, scored, same prompts."""
    return Run.objects.filter(
        endpoint_id=endpoint_id,
        status=RunStatus.SUCCEEDED,
        scored_at__isnull=False,
        prompt_set_version_id=run.prompt_set_version_id,
    )


def baseline_for(run: Run) -> Run | None:
    """The run that ``run`` is compared with, in this order: the endpoint's pinned baseline; the
    latest earlier good run of its baseline endpoint (another version of the model); or the
    good run ``baseline_window`` good runs back on this endpoint (the oldest one there is,
    while there are fewer)."""
    endpoint = run.endpoint
    if endpoint.baseline_run_id and endpoint.baseline_run_id != run.pk:
        return endpoint.baseline_run
    if endpoint.baseline_endpoint_id:
        return (
            _good_runs(endpoint.baseline_endpoint_id, run)
            .filter(created_at__lt=run.created_at)
            .order_by("-created_at")
            .first()
        )
    earlier = _good_runs(endpoint.pk, run).filter(created_at__lt=run.created_at)
    window = list(earlier.order_by("-created_at")[: endpoint.baseline_window])
    return window[-1] if window else None


def blandness_reference(run: Run) -> Run | None:
    """The run the blandness index is measured from: the pinned baseline, or else the first good
    run of the baseline endpoint (if one is set and has run) or of this endpoint. A fixed
    reference keeps the index's series on one scale, which the creep rules need, and one
    reference for a family of versions puts their indexes on the same scale."""
    endpoint = run.endpoint
    if endpoint.baseline_run_id:
        return endpoint.baseline_run
    for endpoint_id in filter(None, [endpoint.baseline_endpoint_id, endpoint.pk]):
        first = _good_runs(endpoint_id, run).order_by("created_at").first()
        if first is not None:
            return first
    return None


def _score_batch(batch: evaluators.Batch, run: Run) -> evaluators.Report:
    embed = batch.embeddings is not None
    reference = blandness_reference(run)
    if reference is not None and reference.pk != run.pk and reference.report:
        return evaluators.score(
            batch, baseline=evaluators.Report.from_dict(reference.report), embed=embed
        )
    # The run is its own reference: score it once to get the reference values, then again
    # against them, so the index starts at 0 on the scale later runs are measured on.
    own = evaluators.score(batch, embed=embed)
    return evaluators.score(batch, baseline=own, embed=embed)


def score_run(run_id: int) -> Run:
    """Score the run and replace its metric points; safe to repeat (re-scoring)."""
    run = Run.objects.select_related("endpoint").get(pk=run_id)
    if run.status not in SCORABLE_STATUSES:
        raise RunNotScorableError(f"run {run.pk} is {run.status}")
    try:
        report = _score_batch(run_batch(run), run)
    except (RunNotScorableError, ValueError) as exc:
        Run.objects.filter(pk=run.pk).update(score_error=str(exc), scored_at=None)
        raise RunNotScorableError(str(exc)) from exc
    time = run.finished_at or timezone.now()
    with transaction.atomic():
        MetricPoint.objects.filter(run=run).delete()
        MetricPoint.objects.bulk_create(
            MetricPoint(
                endpoint=run.endpoint,
                run=run,
                metric=key,
                value=metric.value,
                ci_low=metric.ci_low,
                ci_high=metric.ci_high,
                n=metric.n,
                time=time,
            )
            for key, metric in report.metrics.items()
        )
        Run.objects.filter(pk=run.pk).update(
            report=report.to_dict(), scored_at=timezone.now(), score_error=""
        )
    run.refresh_from_db()
    log.info("run %s scored: %s metrics", run.pk, len(report.metrics))
    return run
