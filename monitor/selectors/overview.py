"""The overview: every endpoint's headline warning signs at a glance, by model family."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from evaluators import METRICS
from monitor.models import Alert, Endpoint, MetricPoint, Run
from monitor.selectors.alerts import worst_state
from monitor.selectors.metrics import HEADLINE_METRICS

SPARKLINE_RUNS = 20


@dataclass(frozen=True)
class HeadlineCell:
    """One endpoint's latest value of one headline sign, with what is needed to read it at a
    glance: the recent values (oldest first), which way it moved, and its alert state."""

    metric: str
    values: tuple[float, ...]
    ci_low: float | None
    ci_high: float | None
    alert_state: str

    @property
    def latest(self) -> float | None:
        return self.values[-1] if self.values else None

    @property
    def trend(self) -> str:
        """ "up" or "down" when the latest value's 95% CI excludes the mean of the runs before
        it, "flat" when it does not; "" with fewer than two runs."""
        if len(self.values) < 2:
            return ""
        before = sum(self.values[:-1]) / (len(self.values) - 1)
        low = self.ci_low if self.ci_low is not None else self.latest
        high = self.ci_high if self.ci_high is not None else self.latest
        if low <= before <= high:
            return "flat"
        return "up" if self.latest > before else "down"

    @property
    def trend_is_worse(self) -> bool:
        if self.trend not in {"up", "down"} or not METRICS[self.metric].warning_sign:
            return False
        return (self.trend == "up") == METRICS[self.metric].higher_is_worse

    @property
    def trend_tone(self) -> str:
        """How the arrow is coloured: "worse", "better", "flat", or "context" for a metric that
        is neither better nor worse (the answers' length)."""
        if self.trend == "flat":
            return "flat"
        if not METRICS[self.metric].warning_sign:
            return "context"
        return "worse" if self.trend_is_worse else "better"


@dataclass(frozen=True)
class OverviewRow:
    endpoint: Endpoint
    latest_run: Run | None
    cells: tuple[HeadlineCell, ...]
    open_alerts: tuple[Alert, ...]

    @property
    def alert_state(self) -> str:
        return worst_state(alert.state for alert in self.open_alerts)


def endpoints_overview() -> list[Endpoint]:
    """Every endpoint, ordered by model family, each with ``latest_run`` (or None)."""
    newest = Run.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at").values("pk")[:1]
    endpoints = list(
        Endpoint.objects.select_related("prompt_set").annotate(last_run_id=Subquery(newest))
    )
    runs = Run.objects.in_bulk([e.last_run_id for e in endpoints if e.last_run_id])
    for endpoint in endpoints:
        endpoint.latest_run = runs.get(endpoint.last_run_id)
    return endpoints


def _recent_headline_points(endpoints: list[Endpoint]) -> dict[tuple[int, str], list[MetricPoint]]:
    """The headline points of each endpoint's last ``SPARKLINE_RUNS`` scored runs, oldest first.

    One small indexed query per endpoint finds its recent scored runs, then one query fetches
    their points: the cost follows the number of endpoints, not the years of stored points."""
    run_ids = [
        run_id
        for endpoint in endpoints
        for run_id in endpoint.runs.scored()
        .order_by("-created_at")
        .values_list("pk", flat=True)[:SPARKLINE_RUNS]
    ]
    points = MetricPoint.objects.filter(run_id__in=run_ids, metric__in=HEADLINE_METRICS).only(
        "endpoint_id", "metric", "value", "ci_low", "ci_high", "time"
    )
    series: dict[tuple[int, str], list[MetricPoint]] = defaultdict(list)
    for point in sorted(points, key=lambda p: p.time):
        series[point.endpoint_id, point.metric].append(point)
    return series


def overview(alerts: list[Alert]) -> list[tuple[str, list[OverviewRow]]]:
    """Every endpoint with its headline cells and its share of the open ``alerts``, grouped by
    model family."""
    endpoints = endpoints_overview()
    series = _recent_headline_points(endpoints)
    alerts_by_endpoint: dict[int, list[Alert]] = defaultdict(list)
    for alert in alerts:
        alerts_by_endpoint[alert.endpoint_id].append(alert)
    families: dict[str, list[OverviewRow]] = defaultdict(list)
    for endpoint in endpoints:
        alerts = alerts_by_endpoint[endpoint.pk]
        cells = []
        for metric in HEADLINE_METRICS:
            points = series.get((endpoint.pk, metric), [])
            last = points[-1] if points else None
            cells.append(
                HeadlineCell(
                    metric,
                    tuple(point.value for point in points),
                    last.ci_low if last else None,
                    last.ci_high if last else None,
                    worst_state(a.state for a in alerts if a.rule.metric == metric),
                )
            )
        families[endpoint.model_family].append(
            OverviewRow(endpoint, endpoint.latest_run, tuple(cells), tuple(alerts))
        )
    return sorted(families.items())
