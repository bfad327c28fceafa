"""The alert policy: which changes between a baseline run and a candidate run count as a
regression. One definition, applied by the CLI gate (``python -m evaluators B --against A
--fail-on-regression``) and by the default drop rules of every new endpoint in the dashboard.

A watched metric regresses when both hold:

* the change is real: its prompt-level permutation p-value, Holm-adjusted across the watched
  metrics together (Holm, 1979), is below ``alpha``. Holm bounds the chance that *any* watched
  metric is flagged when nothing changed (the family-wise error rate) by ``alpha``, however
  many metrics are watched;
* the change is larger than the metric's own noise: worse than the baseline by more than
  ``noise_floor`` standard errors of the baseline's value (its grouped-jackknife spread over
  prompts). A flat percentage ignores that some metrics wobble by 1% between identical models
  and others by 15%; a floor in units of the metric's own spread does not.

The length-sensitive signs are watched in their length-matched form (:mod:`evaluators.length`),
so that answering at another length neither fires nor hides an alert. ``scripts/
calibrate_alerts.py`` measures the policy's power along a recursive-training chain and its
false-alarm rate over independent draws of one source; the README shows its table.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evaluators.comparison import MetricComparison, compare
from evaluators.embedding import Encoder
from evaluators.metrics import METRICS
from evaluators.report import Batch


@dataclass(frozen=True)
class Watch:
    """A metric the policy judges and how loud a regression of it is."""

    metric: str
    severity: str


@dataclass(frozen=True)
class AlertPolicy:
    """Watched metrics, the family-wise significance level, the effect floor in baseline
    standard errors, and the number of permutations of the test."""

    watches: tuple[Watch, ...]
    alpha: float = 0.01
    noise_floor: float = 2.0
    n_permutations: int = 2000

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(watch.metric for watch in self.watches)

    def regressed(self, comparison: Mapping[str, MetricComparison]) -> list[str]:
        """The watched metrics that regressed, in the policy's order."""
        return [
            key
            for key in self.metrics
            if key in comparison
            and is_regression(key, comparison[key], self.alpha, self.noise_floor)
        ]

    def compare(
        self,
        baseline: Batch,
        candidate: Batch,
        *,
        embed: bool = True,
        encoder: Encoder | None = None,
        seed: int = 0,
    ) -> dict[str, MetricComparison]:
        """The policy's test: the watched metrics both runs have, Holm-adjusted together."""
        return compare(
            baseline,
            candidate,
            self.metrics,
            n_permutations=self.n_permutations,
            seed=seed,
            alpha=self.alpha,
            embed=embed,
            encoder=encoder,
        )


DEFAULT_POLICY = AlertPolicy(
    watches=(
        Watch("rare_entity_accuracy", "critical"),
        Watch("accuracy_tail", "warning"),
        Watch("distinct_2_matched", "warning"),
        Watch("tail_types_matched", "warning"),
        Watch("embedding_diversity_within_matched", "warning"),
        Watch("blandness_index", "warning"),
    )
)


def worse_by(value: float, baseline: float, metric: str) -> float:
    """How much worse ``value`` is than ``baseline``, as a fraction of the baseline (negative:
    better). A zero baseline (or one a rounding error from 0) makes the plain difference the
    measure."""
    change = worse_change(value, baseline, metric)
    return change / abs(baseline) if abs(baseline) > 1e-9 else change


def worse_change(value: float, baseline: float, metric: str) -> float:
    """``value - baseline`` signed so that positive is the metric's worse direction."""
    change = value - baseline
    return change if METRICS[metric].higher_is_worse else -change


def change_in_words(value: float, baseline: float, metric: str) -> str:
    """A change said the way a reader takes it, its sign and its meaning never at odds:
    "down 12.3%, the worse direction", "up 0.8 from 0, the worse direction"; a metric that is
    context, not a warning sign (the answers' length), only "up 12.3%"."""
    if value == baseline:
        return "unchanged"
    way = "up" if value > baseline else "down"
    # Against a baseline at (or a rounding error from) 0 a percentage means nothing.
    amount = (
        f"{abs(value - baseline) / abs(baseline) * 100:.1f}%"
        if abs(baseline) > 1e-9
        else f"{abs(value - baseline):.3g} from 0"
    )
    if not METRICS[metric].warning_sign:
        return f"{way} {amount}"
    meaning = "the worse" if worse_by(value, baseline, metric) > 0 else "the better"
    return f"{way} {amount}, {meaning} direction"


def is_regression(
    metric: str,
    result: MetricComparison,
    alpha: float,
    noise_floor: float,
    change_percent: float = 0.0,
) -> bool:
    """Whether ``result`` is a significant change for the worse beyond the effect floors:
    ``noise_floor`` baseline standard errors and, optionally, ``change_percent`` percent."""
    worse = worse_change(result.candidate, result.baseline, metric)
    noise = result.baseline_noise or 0.0
    return (
        result.p_value < alpha
        and worse > noise_floor * noise
        and worse_by(result.candidate, result.baseline, metric) * 100 > change_percent
    )


def regressed_metrics(
    baseline: Batch, candidate: Batch, policy: AlertPolicy = DEFAULT_POLICY, **options
) -> Sequence[str]:
    """The watched metrics on which ``candidate`` regressed from ``baseline`` (``options`` go
    to :meth:`AlertPolicy.compare`)."""
    return policy.regressed(policy.compare(baseline, candidate, **options))
