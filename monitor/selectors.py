"""Read queries for the pages: what each one shows, fetched in a few queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Avg,
    BigIntegerField,
    Count,
    Func,
    Max,
    Min,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
)
from django.utils import timezone

from monitor.models import (
    OPEN_ALERT_STATES,
    Alert,
    AlertEvent,
    AlertState,
    Endpoint,
    EventKind,
    MetricPoint,
    Prompt,
    PromptKind,
    PromptSet,
    Run,
    Sample,
    metric_higher_is_worse,
)
from monitor.services import baselines


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


def recent_runs(endpoint: Endpoint, limit: int = 50) -> QuerySet[Run]:
    return endpoint.runs.select_related("prompt_set_version__prompt_set")[:limit]


def run_samples_by_prompt(run: Run) -> list[dict]:
    """The run's samples grouped under their prompt, in prompt-set order."""
    prompts = run.prompt_set_version.prompts.prefetch_related(
        Prefetch("samples", queryset=run.samples.order_by("sample_index"), to_attr="run_samples")
    )
    return [{"prompt": prompt, "samples": prompt.run_samples} for prompt in prompts]


def prompt_sets_with_counts() -> QuerySet[PromptSet]:
    return PromptSet.objects.annotate(
        version_count=Count("versions", distinct=True),
        endpoint_count=Count("endpoints", distinct=True),
    )


class EpochSeconds(Func):
    """Seconds since 1970 of a datetime column, in SQL, on SQLite and PostgreSQL alike."""

    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            # julianday() counts days from 4714 BC; 2440587.5 of them had passed by 1970.
            compiler,
            connection,
            template="CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400) AS INTEGER)",
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS BIGINT)"
        )


@dataclass(frozen=True)
class SeriesPoint:
    """One point of a chart: a raw run's value, or the mean of a time bucket with its range.
    ``time`` is in epoch seconds; ``run_id`` is set only for a raw point."""

    time: int
    value: float
    low: float | None
    high: float | None
    count: int
    run_id: int | None = None


def metric_series(
    endpoint: Endpoint,
    metric: str,
    start: datetime | None = None,
    end: datetime | None = None,
    max_points: int = 500,
) -> list[SeriesPoint]:
    """The metric's points for a time range, oldest first, at most ``max_points`` of them.

    Up to ``max_points`` raw points are returned as they are (low/high: the 95% CI). More are
    averaged in equal time buckets, computed by the database, with each bucket's min and max
    as low/high, so a year of five-minute runs draws from a few hundred rows.
    """
    return metric_series_by_metric(endpoint, [metric], start, end, max_points).get(metric, [])


def metric_series_by_metric(
    endpoint: Endpoint,
    metrics: Iterable[str],
    start: datetime | None = None,
    end: datetime | None = None,
    max_points: int = 500,
) -> dict[str, list[SeriesPoint]]:
    """``metric_series`` of several metrics in three queries instead of three per metric: one
    counts each metric's points, one fetches the raw points of the metrics that fit, one buckets
    the rest on a time grid they share (so their charts line up)."""
    points = MetricPoint.objects.filter(endpoint=endpoint, metric__in=list(metrics))
    if start:
        points = points.filter(time__gte=start)
    if end:
        points = points.filter(time__lte=end)
    spans = {
        row["metric"]: row
        for row in points.values("metric").annotate(
            count=Count("pk"), first=Min("time"), last=Max("time")
        )
    }
    raw = [metric for metric, span in spans.items() if span["count"] <= max_points]
    series: dict[str, list[SeriesPoint]] = {metric: [] for metric in spans}
    for p in points.filter(metric__in=raw).order_by("time"):
        series[p.metric].append(
            SeriesPoint(int(p.time.timestamp()), p.value, p.ci_low, p.ci_high, 1, p.run_id)
        )
    bucketed = [metric for metric in spans if metric not in raw]
    if not bucketed:
        return series
    first = int(min(spans[metric]["first"] for metric in bucketed).timestamp())
    last = int(max(spans[metric]["last"] for metric in bucketed).timestamp())
    width = max(1, -(-(last - first + 1) // max_points))  # ceiling division
    buckets = (
        points.filter(metric__in=bucketed)
        .annotate(bucket=(EpochSeconds("time") - Value(first)) / Value(width))
        .values("metric", "bucket")
        .annotate(mean=Avg("value"), low=Min("value"), high=Max("value"), count=Count("pk"))
        .order_by("metric", "bucket")
    )
    for row in buckets:
        series[row["metric"]].append(
            SeriesPoint(
                first + row["bucket"] * width + width // 2,
                row["mean"],
                row["low"],
                row["high"],
                row["count"],
            )
        )
    return series


# Labels and the overview's headline warning signs --------------------------------------------

# The six signs the overview shows, in the order a reader scans them: variety of words, variety
# of meaning, rare facts, the head-tail gap, repetition, and the one-figure blandness index.
HEADLINE_METRICS: tuple[str, ...] = (
    "distinct_2",
    "embedding_diversity_within",
    "rare_entity_accuracy",
    "tail_gap",
    "rep_4",
    "blandness_index",
)
METRIC_LABELS: dict[str, str] = {
    "distinct_2": "Distinct-2",
    "embedding_diversity_within": "Embedding diversity",
    "rare_entity_accuracy": "Rare-entity accuracy",
    "tail_gap": "Tail gap",
    "rep_4": "Repetition",
    "blandness_index": "Blandness index",
    "self_bleu": "Self-BLEU",
    "vendi_within": "Vendi (within prompt)",
    "vendi_across": "Vendi (across prompts)",
}
SPARKLINE_RUNS = 20
CHART_POINTS = 300


def metric_label(metric: str) -> str:
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    return metric.replace("_", " ").capitalize().replace("Distinct ", "Distinct-")


def metric_description(metric: str) -> str:
    from evaluators.metrics import METRICS

    if metric in METRICS:
        return METRICS[metric].description
    return "0: as varied as the baseline, 100: degenerate text"


def ordered_metrics(keys: Iterable[str]) -> list[str]:
    """Headline signs first, then the rest in the evaluators' order; unknown keys dropped."""
    from evaluators import METRIC_KEYS

    present = set(keys)
    order = [*HEADLINE_METRICS, *(key for key in METRIC_KEYS if key not in HEADLINE_METRICS)]
    return [key for key in order if key in present]


# Overview ------------------------------------------------------------------------------------


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
        if self.trend not in {"up", "down"}:
            return False
        return (self.trend == "up") == metric_higher_is_worse(self.metric)


@dataclass(frozen=True)
class OverviewRow:
    endpoint: Endpoint
    latest_run: Run | None
    cells: tuple[HeadlineCell, ...]
    open_alerts: tuple[Alert, ...]

    @property
    def alert_state(self) -> str:
        return _worst_state(alert.state for alert in self.open_alerts)


def _worst_state(states: Iterable[str]) -> str:
    states = set(states)
    for state in (AlertState.FIRING, AlertState.PENDING):
        if state in states:
            return state
    return ""


def open_alerts(endpoint: Endpoint | None = None) -> list[Alert]:
    """Pending and firing alerts (of ``endpoint``, or of all), firing first, newest first."""
    alerts = Alert.objects.filter(state__in=OPEN_ALERT_STATES).select_related("rule", "endpoint")
    if endpoint is not None:
        alerts = alerts.filter(endpoint=endpoint)
    return sorted(alerts, key=lambda alert: (alert.state != AlertState.FIRING, -alert.pk))


def filtered_alerts(
    states: Iterable[str], severity: str = "", endpoint: Endpoint | None = None, metric: str = ""
) -> QuerySet[Alert]:
    """Alerts in ``states``, newest first, narrowed by the filters that are set."""
    alerts = Alert.objects.filter(state__in=list(states))
    if severity:
        alerts = alerts.filter(rule__severity=severity)
    if endpoint:
        alerts = alerts.filter(endpoint=endpoint)
    if metric:
        alerts = alerts.filter(rule__metric=metric)
    return alerts.select_related("rule", "endpoint", "acknowledged_by").order_by("-opened_at")


def _recent_headline_points(endpoints: list[Endpoint]) -> dict[tuple[int, str], list[MetricPoint]]:
    """The headline points of each endpoint's last ``SPARKLINE_RUNS`` scored runs, oldest first.

    One small indexed query per endpoint finds its recent scored runs, then one query fetches
    their points: the cost follows the number of endpoints, not the years of stored points."""
    run_ids = [
        run_id
        for endpoint in endpoints
        for run_id in endpoint.runs.filter(scored_at__isnull=False)
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
                    _worst_state(a.state for a in alerts if a.rule.metric == metric),
                )
            )
        families[endpoint.model_family].append(
            OverviewRow(endpoint, endpoint.latest_run, tuple(cells), tuple(alerts))
        )
    return sorted(families.items())


# Endpoint charts -----------------------------------------------------------------------------

CHART_RANGES: dict[str, timedelta | None] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
DEFAULT_CHART_RANGE = "30d"
MARKED_EVENTS = (EventKind.FIRED, EventKind.RESOLVED)


def range_start(range_key: str, now: datetime | None = None) -> datetime | None:
    span = CHART_RANGES[range_key]
    return (now or timezone.now()) - span if span else None


def latest_scored_run(endpoint: Endpoint) -> Run | None:
    return endpoint.runs.filter(scored_at__isnull=False).order_by("-created_at").first()


def run_metric_values(run: Run | None) -> dict[str, float]:
    if run is None:
        return {}
    return dict(MetricPoint.objects.filter(run=run).values_list("metric", "value"))


def _series_payload(points: list[SeriesPoint], label: str) -> dict:
    return {
        "label": label,
        "t": [point.time for point in points],
        "v": [point.value for point in points],
        "lo": [point.low for point in points],
        "hi": [point.high for point in points],
        "bucketed": any(point.count > 1 for point in points),
    }


def alert_markers(endpoint: Endpoint, start: datetime | None) -> dict[str, list[dict]]:
    """Fired and resolved alert events by metric, placed at the time of the run that caused
    them (the time of its point on the chart)."""
    events = AlertEvent.objects.filter(alert__endpoint=endpoint, kind__in=MARKED_EVENTS)
    if start:
        events = events.filter(created_at__gte=start)
    markers: dict[str, list[dict]] = defaultdict(list)
    for event in events.select_related("alert__rule", "run"):
        when = (event.run.finished_at if event.run else None) or event.created_at
        markers[event.alert.rule.metric].append(
            {"t": int(when.timestamp()), "kind": event.kind, "label": event.get_kind_display()}
        )
    return markers


def endpoint_charts(endpoint: Endpoint, start: datetime | None) -> list[dict]:
    """One chart per metric the endpoint's latest scored run has: the downsampled series with
    its band, the baseline value the latest run is compared with, and alert markers."""
    latest = latest_scored_run(endpoint)
    if latest is None:
        return []
    metrics = ordered_metrics(run_metric_values(latest))
    baseline = baselines.baseline_for(latest)
    baseline_values = run_metric_values(baseline)
    markers = alert_markers(endpoint, start)
    series = metric_series_by_metric(endpoint, metrics, start, None, CHART_POINTS)
    charts = []
    for metric in metrics:
        points = series.get(metric, [])
        charts.append(
            {
                "metric": metric,
                "title": metric_label(metric),
                "description": metric_description(metric),
                "higher_is_worse": metric_higher_is_worse(metric),
                "series": [_series_payload(points, endpoint.name)] if points else [],
                "baseline": baseline_values.get(metric),
                "baseline_run": baseline.pk if baseline else None,
                "markers": markers.get(metric, []),
            }
        )
    return charts


# Run page ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRow:
    metric: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int
    baseline: float | None

    @property
    def label(self) -> str:
        return metric_label(self.metric)

    @property
    def description(self) -> str:
        return metric_description(self.metric)


def run_metric_rows(run: Run, baseline: Run | None) -> list[MetricRow]:
    """The run's report as table rows, headline signs first, with the baseline's values."""
    if not run.report:
        return []
    metrics = run.report["metrics"]
    baseline_metrics = (baseline.report or {}).get("metrics", {}) if baseline else {}
    return [
        MetricRow(
            key,
            metrics[key]["value"],
            metrics[key]["ci_low"],
            metrics[key]["ci_high"],
            metrics[key]["n"],
            baseline_metrics.get(key, {}).get("value"),
        )
        for key in ordered_metrics(metrics)
    ]


def prompt_breakdown(run: Run) -> tuple[list[str], list[dict]]:
    """The report's per-prompt figures: the metric columns any prompt has, and one row per
    prompt in prompt-set order with its text, kind and popularity tercile."""
    if not run.report:
        return [], []
    per_prompt = run.report.get("prompts", {})
    columns = ordered_metrics({key for entry in per_prompt.values() for key in entry["metrics"]})
    prompts = run.prompt_set_version.prompts.only("key", "kind", "text")
    rows = [
        {
            "prompt": prompt,
            "n_samples": per_prompt[prompt.key]["n_samples"],
            "tercile": per_prompt[prompt.key].get("tercile", ""),
            "values": [per_prompt[prompt.key]["metrics"].get(key) for key in columns],
        }
        for prompt in prompts
        if prompt.key in per_prompt
    ]
    return columns, rows


# Popularity buckets as the evaluators name them, rarest first: the tail is where collapse shows.
TERCILES: tuple[tuple[str, str], ...] = (
    ("tail", "Tail (rarest third)"),
    ("torso", "Torso (middle third)"),
    ("head", "Head (best-known third)"),
    ("", "Unbucketed"),
)


def wrong_probes_by_bucket(run: Run) -> list[dict]:
    """The probes the run answered wrong at least once, grouped by popularity bucket, rarest
    bucket first and rarest probe first within it; each with its wrong answers."""
    from evaluators import is_correct

    per_prompt = (run.report or {}).get("prompts", {})
    terciles = {key: entry.get("tercile", "") for key, entry in per_prompt.items()}
    wrong: dict[int, dict] = {}
    samples = run.samples.filter(error="", prompt__kind=PromptKind.PROBE).select_related("prompt")
    for sample in samples.order_by("prompt__position", "sample_index"):
        prompt = sample.prompt
        entry = wrong.setdefault(prompt.pk, {"prompt": prompt, "wrong": [], "total": 0})
        entry["total"] += 1
        if not is_correct(sample.text, prompt.gold):
            entry["wrong"].append(sample)
    buckets = []
    for tercile, title in TERCILES:
        probes = [
            entry
            for entry in wrong.values()
            if entry["wrong"] and terciles.get(entry["prompt"].key, "") == tercile
        ]
        if probes:
            probes.sort(key=lambda entry: _rarest_first(entry["prompt"].popularity))
            buckets.append({"tercile": tercile, "title": title, "probes": probes})
    return buckets


def _rarest_first(popularity: float | None) -> tuple[bool, float]:
    return (popularity is None, popularity or 0.0)


# Compare -------------------------------------------------------------------------------------


class ComparisonError(Exception):
    """Why two things cannot be compared, in words for the user."""


COMPARE_BY = {
    "endpoint": "Two endpoints",
    "version": "Two versions of a model family",
    "run": "Two runs",
}


def _latest_scored(runs: QuerySet[Run], what: str) -> Run:
    run = runs.filter(scored_at__isnull=False).order_by("-created_at").first()
    if run is None:
        raise ComparisonError(f"{what} has no scored run yet.")
    return run


def comparison_runs(by: str, a: str, b: str, family: str = "") -> tuple[Run, Run]:
    """The two scored runs a comparison is about: two runs by id, the latest scored runs of two
    endpoints, or the latest scored runs of two version labels of one model family."""
    runs = Run.objects.select_related("endpoint", "prompt_set_version__prompt_set")
    if by == "run":
        found = runs.in_bulk([a, b])
        pair = [found.get(int(key)) for key in (a, b)]
        missing = [key for key, run in zip((a, b), pair, strict=True) if run is None]
        if missing:
            raise ComparisonError(f"No run #{missing[0]}.")
        unscored = [run for run in pair if run.report is None]
        if unscored:
            raise ComparisonError(f"Run #{unscored[0].pk} is not scored (yet).")
        return pair[0], pair[1]
    if by == "endpoint":
        endpoints = Endpoint.objects.in_bulk([a, b])
        if int(a) not in endpoints or int(b) not in endpoints:
            raise ComparisonError("Pick two existing endpoints.")
        return tuple(
            _latest_scored(runs.filter(endpoint_id=key), str(endpoints[int(key)])) for key in (a, b)
        )
    if by == "version":
        return tuple(
            _latest_scored(
                runs.filter(endpoint__model_family=family, endpoint__version_label=label),
                f"Version {label!r} of {family!r}",
            )
            for label in (a, b)
        )
    raise ComparisonError(f"Unknown comparison {by!r}.")


def family_versions() -> dict[str, list[str]]:
    """Each model family's version labels: the choices of a version comparison."""
    versions: dict[str, list[str]] = defaultdict(list)
    pairs = Endpoint.objects.order_by("model_family", "version_label").values_list(
        "model_family", "version_label"
    )
    for family, label in pairs.distinct():
        versions[family].append(label)
    return dict(versions)


@dataclass(frozen=True)
class ComparedMetric:
    """One metric in runs A and B; ``test`` is the two-sample test's result once computed."""

    metric: str
    a: dict
    b: dict
    test: dict | None

    @property
    def label(self) -> str:
        return metric_label(self.metric)

    @property
    def delta(self) -> float:
        return self.b["value"] - self.a["value"]

    @property
    def relative(self) -> float | None:
        return self.delta / abs(self.a["value"]) if self.a["value"] else None

    @property
    def worse(self) -> bool:
        return self.delta != 0 and (self.delta > 0) == metric_higher_is_worse(self.metric)


def compared_metrics(run_a: Run, run_b: Run, tests: dict | None) -> list[ComparedMetric]:
    """Every metric of either run's report, with both values and CIs (None where a run lacks
    the metric); ``tests`` maps metric keys to their p-value and significance."""
    metrics_a, metrics_b = run_a.report["metrics"], run_b.report["metrics"]
    return [
        ComparedMetric(key, metrics_a[key], metrics_b[key], (tests or {}).get(key))
        for key in ordered_metrics(metrics_a.keys() & metrics_b.keys())
    ]


def _common_prompt_keys(run_a: Run, run_b: Run) -> list[str]:
    keys_b = set(run_b.prompt_set_version.prompts.values_list("key", flat=True))
    keys_a = run_a.prompt_set_version.prompts.values_list("key", flat=True)
    return [key for key in keys_a if key in keys_b]


def _samples_by_key(run: Run, keys: Iterable[str], **filters) -> dict[str, list[Sample]]:
    grouped: dict[str, list[Sample]] = defaultdict(list)
    samples = run.samples.filter(prompt__key__in=list(keys), **filters).select_related("prompt")
    for sample in samples.order_by("prompt__position", "sample_index"):
        grouped[sample.prompt.key].append(sample)
    return grouped


def side_by_side(run_a: Run, run_b: Run, limit: int = 40) -> tuple[list[dict], int]:
    """The first ``limit`` prompts both runs answered, each with A's and B's samples; and how
    many prompts the runs have in common."""
    common = _common_prompt_keys(run_a, run_b)
    shown = common[:limit]
    samples_a, samples_b = _samples_by_key(run_a, shown), _samples_by_key(run_b, shown)
    rows = [
        {"prompt": samples_a[key][0].prompt, "a": samples_a[key], "b": samples_b.get(key, [])}
        for key in shown
        if samples_a.get(key)
    ]
    return rows, len(common)


@dataclass(frozen=True)
class TailLoss:
    """A factual probe that run A answered right and run B wrong."""

    prompt: Prompt
    a_correct: int
    a_total: int
    b_correct: int
    b_total: int
    b_answer: str


def _mostly_right(correct: int, total: int) -> bool:
    return total > 0 and 2 * correct >= total


def tail_losses(run_a: Run, run_b: Run) -> list[TailLoss]:
    """Probes that A answered right (at least half its samples hold a gold alias) and B wrong
    (fewer than half do), rarest entity first: the facts B forgot."""
    from evaluators import is_correct

    keys = _common_prompt_keys(run_a, run_b)
    ok = {"error": "", "prompt__kind": PromptKind.PROBE}
    samples_a, samples_b = _samples_by_key(run_a, keys, **ok), _samples_by_key(run_b, keys, **ok)
    losses = []
    for key, answers_a in samples_a.items():
        answers_b = samples_b.get(key, [])
        gold = answers_a[0].prompt.gold
        right_a = sum(is_correct(sample.text, gold) for sample in answers_a)
        wrong_b = [sample for sample in answers_b if not is_correct(sample.text, gold)]
        right_b = len(answers_b) - len(wrong_b)
        lost = _mostly_right(right_a, len(answers_a)) and not _mostly_right(right_b, len(answers_b))
        if lost and answers_b:
            prompt = answers_a[0].prompt
            losses.append(
                TailLoss(prompt, right_a, len(answers_a), right_b, len(answers_b), wrong_b[0].text)
            )
    losses.sort(key=lambda loss: _rarest_first(loss.prompt.popularity))
    return losses


def overlaid_charts(run_a: Run, run_b: Run) -> list[dict]:
    """Headline signs of both runs' endpoints over the month before the later run, one chart
    per sign with a line per endpoint and the two compared runs marked."""
    start = min(run_a.finished_at, run_b.finished_at) - timedelta(days=30)
    endpoints = list({run.endpoint_id: run.endpoint for run in (run_a, run_b)}.values())
    both = run_a.report["metrics"].keys() & run_b.report["metrics"].keys()
    charts = []
    for metric in ordered_metrics(both & set(HEADLINE_METRICS)):
        series = [
            _series_payload(metric_series(e, metric, start, None, CHART_POINTS), str(e))
            for e in endpoints
        ]
        charts.append(
            {
                "metric": metric,
                "title": metric_label(metric),
                "description": metric_description(metric),
                "higher_is_worse": metric_higher_is_worse(metric),
                "series": [line for line in series if line["t"]],
                "baseline": None,
                "markers": [
                    {"t": int(run.finished_at.timestamp()), "kind": "run", "label": name}
                    for name, run in (("A", run_a), ("B", run_b))
                ],
            }
        )
    return charts
