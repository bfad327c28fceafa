"""Score: turn a finished run's samples into the evaluators' report and stored metric points.

Every figure on the dashboard is a ``MetricPoint`` written here, from ``evaluators.score`` over
the run's successful samples; the full report (CIs, per-prompt breakdown) is kept on the run.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import NoReturn

import numpy as np
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

import evaluators
from evaluators.embedding import share_of_cores
from monitor.celery import app as celery_app
from monitor.models import MetricPoint, PromptKind, Run, Sample
from monitor.services import baselines, rollups

log = logging.getLogger(__name__)


class RunNotScorableError(Exception):
    pass


@cache
def encoder() -> evaluators.Encoder:
    """The embedding model, loaded once per worker process, on the configured device and with
    the process's share of the cores."""
    return evaluators.SentenceTransformerEncoder(
        settings.TAILWATCH_EMBEDDING_MODEL or None,
        device=settings.TAILWATCH_EMBEDDING_DEVICE,
        threads=torch_threads(),
    )


def torch_threads() -> int:
    """``TAILWATCH_TORCH_THREADS``, or the share of the cores of one of the worker's concurrent
    tasks (all of them outside a worker)."""
    if settings.TAILWATCH_TORCH_THREADS:
        return settings.TAILWATCH_TORCH_THREADS
    return share_of_cores(celery_app.conf.worker_concurrency or 1)


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


def _score_batch(batch: evaluators.Batch, run: Run, awaits_baseline: bool) -> evaluators.Report:
    embed = batch.embeddings is not None
    options = {"embed": embed, "encoder": encoder() if embed else None}
    if awaits_baseline:
        # Nothing to measure the blandness index (or any baseline-relative metric) from yet:
        # leave it out rather than measure it from a stand-in; the run is rescored when its
        # baseline is.
        report = evaluators.score(batch, **options)
        for key in [key for key in report.metrics if evaluators.METRICS[key].baseline_relative]:
            del report.metrics[key]
        return report
    reference = baselines.blandness_reference(run)
    if reference is None or reference.pk == run.pk:
        # The endpoint's first good run is the start of its own scale: its index is 0.
        return evaluators.score(batch, baseline=batch, **options)
    return evaluators.score(batch, baseline=reference_of_scale(reference), **options)


def reference_of_scale(reference: Run) -> evaluators.Batch | evaluators.Report:
    """What the blandness index is measured from: the reference run's outputs, measured at the
    length each run shares with it, so that a run answering at another length is compared at
    equal length; its stored report (measured at its own length) once its samples are gone."""
    try:
        return run_batch(reference)
    except RunNotScorableError:
        return evaluators.Report.from_dict(reference.report)


def _not_scorable(run: Run, reason: str, cause: Exception) -> NoReturn:
    """Record why the run has no metrics; the rules that need none still judge it."""
    Run.objects.filter(pk=run.pk).update(score_error=reason, scored_at=None, stage_error="")
    raise RunNotScorableError(reason) from cause


def score_run(run_id: int, *, again: bool = False) -> Run:
    """Score the run and replace its metric points. A run already scored is left as it is (a
    repeated message) unless it awaits its baseline or ``again`` asks for a re-score."""
    run = Run.objects.select_related("endpoint").get(pk=run_id)
    if not run.is_scorable:
        raise RunNotScorableError(f"run {run.pk} is {run.status}")
    if run.scored_at and not run.awaits_baseline and not again:
        return run
    awaits_baseline = baselines.awaits_baseline(run)
    try:
        report = _score_batch(run_batch(run), run, awaits_baseline)
    except (RunNotScorableError, ValueError) as exc:
        _not_scorable(run, str(exc), exc)
    except DatabaseError:
        raise  # the database is away: the stage is retried, nothing is wrong with the run
    except Exception as exc:
        # A scorer that cannot work (say, an embedding model that will not load) is said on
        # each run's page, rather than retried until the run is given up with no reason.
        log.exception("run %s could not be scored", run.pk)
        _not_scorable(run, f"scoring failed: {exc!r}", exc)
    time = run.finished_at or timezone.now()
    old_points = MetricPoint.objects.filter(run=run)
    # One transaction: the points, their roll-ups and the run's report change together.
    with rollups.kept_up_to_date(old_points) as changed:
        old_points.delete()
        changed.append(rollups.Span(run.endpoint_id, time, time))
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
            report=report.to_dict(),
            scored_at=timezone.now(),
            score_error="",
            awaits_baseline=awaits_baseline,
            # A late but healthy scoring undoes a give-up, and the next loss counts from zero.
            stage_error="",
            stage_requeues=0,
        )
    if awaits_baseline and not baselines.awaits_baseline(run):
        # The baseline was scored while this run was: no message will come for it.
        return score_run(run_id)
    run.refresh_from_db()
    log.info(
        "run %s scored: %s metrics%s",
        run.pk,
        len(report.metrics),
        ", waiting for its baseline" if awaits_baseline else "",
    )
    return run
