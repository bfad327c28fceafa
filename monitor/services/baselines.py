"""Baselines: which run a run is compared with, and pinning one.

Every baseline-relative figure starts here: the drop rules compare a run with ``baseline_for``,
and the blandness index is measured from ``blandness_reference``. A run whose endpoint names a
baseline endpoint that has no scored run yet *awaits* its baseline: it gets no baseline-relative
figure at all (never one measured against itself or another stand-in), and is rescored and
evaluated once the baseline endpoint's first run is scored (``runs_awaiting``).
"""

from __future__ import annotations

from evaluators import METRICS
from monitor.models import AlertRule, Endpoint, RuleKind, Run, RunQuerySet


class BaselineNotFitError(Exception):
    """The run cannot be a baseline (it failed, had failures, or is not scored)."""


def _other_version_runs(run: Run) -> RunQuerySet:
    """The baseline endpoint's scored runs on ``run``'s prompts. Partial runs count: a version
    whose predecessor lost a few samples to errors must still be judged against it."""
    return Run.objects.filter(endpoint_id=run.endpoint.baseline_endpoint_id).comparable_to(run)


def awaits_baseline(run: Run) -> bool:
    """True when the run's baseline endpoint has no scored run to compare it with yet."""
    endpoint = run.endpoint
    if endpoint.baseline_run_id or not endpoint.baseline_endpoint_id:
        return False
    return not _other_version_runs(run).exists()


def baseline_for(run: Run) -> Run | None:
    """The run that ``run`` is compared with, in this order: the endpoint's pinned baseline; the
    baseline endpoint's (another version of the model) latest scored run that started before
    ``run`` finished, or its first scored run when it started later (versions registered
    together); or the good run ``baseline_window`` good runs back on this endpoint (the oldest
    one there is, while there are fewer). None while there is none: never ``run`` itself."""
    endpoint = run.endpoint
    if endpoint.baseline_run_id and endpoint.baseline_run_id != run.pk:
        return endpoint.baseline_run
    if endpoint.baseline_endpoint_id:
        candidates = _other_version_runs(run)
        before = candidates.filter(created_at__lte=run.finished_at or run.created_at)
        return before.order_by("-created_at").first() or candidates.order_by("created_at").first()
    earlier = Run.objects.filter(endpoint=endpoint, created_at__lt=run.created_at).good_for(run)
    window = list(earlier.order_by("-created_at")[: endpoint.baseline_window])
    return window[-1] if window else None


def blandness_reference(run: Run) -> Run | None:
    """The run the blandness index is measured from: the pinned baseline, or else the first
    scored run of the baseline endpoint (if one is set) or good run of this endpoint. A fixed
    reference keeps the index's series on one scale, which the creep rules need, and one
    reference for a family of versions puts their indexes on the same scale. None for an
    endpoint's first good run (the start of its own scale, index 0) and for a run that awaits
    its baseline."""
    endpoint = run.endpoint
    if endpoint.baseline_run_id:
        return endpoint.baseline_run
    if endpoint.baseline_endpoint_id:
        return _other_version_runs(run).order_by("created_at").first()
    return Run.objects.filter(endpoint=endpoint).good_for(run).order_by("created_at").first()


def depends_on_baseline(rule: AlertRule) -> bool:
    """Rules that judge a run against its baseline: they wait while the run awaits it."""
    metric = METRICS.get(rule.metric)
    return rule.kind == RuleKind.DROP or (metric is not None and metric.baseline_relative)


def runs_awaiting(run: Run) -> list[Run]:
    """The runs that were waiting for ``run``: other versions whose baseline endpoint is
    ``run``'s endpoint, now that ``run`` is a scored run to compare them with."""
    if run.scored_at is None:
        return []
    return list(
        Run.objects.filter(
            awaits_baseline=True,
            endpoint__baseline_endpoint_id=run.endpoint_id,
            endpoint__baseline_run__isnull=True,
            prompt_set_version_id=run.prompt_set_version_id,
        )
    )


def pin_baseline(run: Run) -> Endpoint:
    """Make ``run`` the run its endpoint's later runs are compared with."""
    if not run.is_good:
        raise BaselineNotFitError(
            f"Run {run.pk} cannot be the baseline: only a scored run without failures can."
        )
    endpoint = run.endpoint
    endpoint.baseline_run = run
    endpoint.save(update_fields=["baseline_run", "updated_at"])
    return endpoint


def unpin_baseline(endpoint: Endpoint) -> Endpoint:
    """Go back to comparing each run with the good run ``baseline_window`` runs before it."""
    endpoint.baseline_run = None
    endpoint.save(update_fields=["baseline_run", "updated_at"])
    return endpoint
