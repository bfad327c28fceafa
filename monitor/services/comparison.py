"""Compare runs: the two-sample test behind the drop rules and the compare page."""

from __future__ import annotations

from collections.abc import Sequence

import evaluators
from monitor.models import Run
from monitor.services import baselines, scoring

# The raw forms of the length-sensitive signs are shown but not tested: their length-matched twins
# are, as the alert policy judges them, and a smaller family keeps Holm's adjustment from
# swallowing real changes. Every other metric is tested, Self-BLEU and the compression ratio from
# jackknife replicates (see evaluators.comparison).
UNTESTED_ON_PAGE = frozenset(evaluators.metrics.LENGTH_SENSITIVE)
PAGE_PERMUTATIONS = 1000


def compare_runs(
    baseline: Run,
    candidate: Run,
    metrics: Sequence[str],
    *,
    n_permutations: int,
    seed: int = 0,
    reference: Run | None = None,
) -> dict[str, evaluators.MetricComparison]:
    """Does ``candidate`` differ from ``baseline``? A prompt-level permutation test per metric,
    Holm-adjusted across ``metrics``, at the length both runs (and ``reference``) share. The
    blandness index of both is measured from ``reference``, the run its stored series is
    measured from, so the test's figures are the dashboard's. Both runs were scored with the
    same settings, so both have stored embeddings or neither; they are reused, and only the
    outputs cut to the shared length are embedded, when a length-matched embedding metric is
    asked for."""
    baseline_batch, candidate_batch = scoring.run_batch(baseline), scoring.run_batch(candidate)
    embed = baseline_batch.embeddings is not None and candidate_batch.embeddings is not None
    return evaluators.compare(
        baseline_batch,
        candidate_batch,
        metrics,
        n_permutations=n_permutations,
        seed=seed,
        embed=embed,
        encoder=scoring.encoder() if embed else None,
        reference=_batch_or_none(reference),
    )


def _batch_or_none(run: Run | None) -> evaluators.Batch | None:
    """The run's outputs, if there is a run and its samples are still kept."""
    reference = scoring.reference_of_scale(run) if run is not None else None
    return reference if isinstance(reference, evaluators.Batch) else None


def tested_metrics(run_a: Run, run_b: Run) -> list[str]:
    both = run_a.report["metrics"].keys() & run_b.report["metrics"].keys()
    return [key for key in evaluators.METRIC_KEYS if key in both and key not in UNTESTED_ON_PAGE]


def significance(run_a: Run, run_b: Run, permutations: int = PAGE_PERMUTATIONS) -> dict[str, dict]:
    """Per metric, whether B differs from A: the Holm-adjusted p-value of a prompt-level
    permutation test and its verdict at 5%, with the blandness index of both measured from
    B's reference, as B's stored one is. Both runs must be scored; their stored embeddings are
    reused. It takes what scoring both runs does: the page has it computed by a worker
    (``services/comparison_jobs.py``)."""
    comparisons = compare_runs(
        run_a,
        run_b,
        tested_metrics(run_a, run_b),
        n_permutations=permutations,
        reference=baselines.blandness_reference(run_b),
    )
    return {
        key: {"p_value": comparison.p_value, "significant": comparison.significant}
        for key, comparison in comparisons.items()
    }
