"""Benchmark the overview and endpoint pages on a year of data: about 1M metric points.

Needs PostgreSQL: ``BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/tailwatch_bench``
(the database is created if missing, and filled once; ``--regenerate`` fills it again).
12 endpoints in 4 model families each get a scored run every ~2.2 hours for a year, every run
one point per metric, written with COPY, then summed up into hourly and daily roll-ups by the
database as the migration that adds them does; a few alerts fire, so the overview has some.

Prints, all measured in this run, the median server time of each page rendered through Django's
test client (middleware, views, queries, templates), and of a Prometheus scrape of ``/metrics``,
against two references:
  * an empty page through the same stack (the login page): the framework's own cost;
  * a bare SELECT of one endpoint's points for a year: what a page that read raw rows would pay
    before drawing anything.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.targets import Target, at_most, render

FAMILIES, VERSIONS = 4, 3
RUNS_PER_ENDPOINT = 4000
SPAN = timedelta(days=365)
REPEATS = 15


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
    import django
    import psycopg2
    from django.conf import settings

    django.setup()
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("BENCH_DATABASE_URL must be a postgres:// URL")
    # Create the benchmark database when it does not exist yet.
    admin = psycopg2.connect(
        dbname="postgres",
        user=db["USER"],
        password=db["PASSWORD"],
        host=db["HOST"],
        port=db["PORT"],
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{db["NAME"]}"')
    admin.close()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # Pages name static files as production does (hashed, from the manifest collectstatic writes).
    call_command("collectstatic", interactive=False, verbosity=0)


def copy_rows(table: str, columns: list[str], rows) -> None:
    from django.db import connection

    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(r"\N" if value is None else str(value) for value in row) + "\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer, size=1 << 20
        )


def generate() -> None:
    """A year of scored runs for every endpoint: runs and points by COPY, ids assigned here."""
    import random

    from django.db import connection, transaction

    from evaluators import METRIC_KEYS
    from monitor.models import (
        LATENCY_BOUNDS_MS,
        Alert,
        AlertEvent,
        AlertRule,
        AlertState,
        Endpoint,
        EventKind,
        MetricPoint,
        MetricRollup,
        PromptSet,
        Run,
    )
    from monitor.services import rollups
    from monitor.services.prompts import PromptRow, add_version

    for model in (
        MetricRollup,
        MetricPoint,
        AlertEvent,
        Alert,
        Run,
        AlertRule,
        Endpoint,
        PromptSet,
    ):
        model.objects.all().delete()
    prompt_set = PromptSet.objects.create(name="bench")
    version = add_version(prompt_set, [PromptRow("p0", "open", "Say something.")], "bench")
    endpoints = [
        Endpoint.objects.create(
            name=f"family-{family}-v{number}",
            model_family=f"family-{family}",
            version_label=f"v{number}",
            base_url="http://bench.invalid/v1",
            model="bench",
            prompt_set=prompt_set,
            interval_minutes=131,
        )
        for family in range(FAMILIES)
        for number in range(1, VERSIONS + 1)
    ]
    rng = random.Random(0)
    now = datetime.now(UTC)
    step = SPAN / RUNS_PER_ENDPOINT
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM monitor_run")
        first_run_id = cursor.fetchone()[0] + 1
    runs, points, run_id = [], [], first_run_id
    # What a run of 5 samples of 3 s each keeps for /metrics.
    latencies = json.dumps(
        {
            "bounds_ms": list(LATENCY_BOUNDS_MS),
            "cumulative": [5 if bound >= 5000 else 0 for bound in LATENCY_BOUNDS_MS],
            "count": 5,
            "sum_ms": 15_000,
        }
    )
    for endpoint in endpoints:
        levels = {metric: rng.uniform(0.2, 0.9) for metric in METRIC_KEYS}
        for index in range(RUNS_PER_ENDPOINT):
            finished = now - SPAN + step * (index + 1)
            runs.append(
                (
                    run_id,
                    endpoint.pk,
                    version.pk,
                    "schedule",
                    "succeeded",
                    "{}",
                    5,
                    5,
                    5,
                    0,
                    "",
                    finished - timedelta(minutes=3),
                    finished - timedelta(minutes=2),
                    finished,
                    1,
                    "",
                    finished,
                    "",
                    finished,
                    False,
                    "",
                    0,
                    latencies,
                    "",
                )
            )
            for metric, level in levels.items():
                value = level + rng.gauss(0, 0.02) - 0.1 * index / RUNS_PER_ENDPOINT
                points.append(
                    (endpoint.pk, run_id, metric, value, value - 0.03, value + 0.03, 100, finished)
                )
            run_id += 1
    started = time.perf_counter()
    with transaction.atomic():
        copy_rows(
            "monitor_run",
            [
                "id",
                "endpoint_id",
                "prompt_set_version_id",
                "trigger",
                "status",
                "request_params",
                "samples_per_prompt",
                "samples_expected",
                "samples_succeeded",
                "samples_failed",
                "error_summary",
                "created_at",
                "started_at",
                "finished_at",
                "attempts",
                "lease_token",
                "scored_at",
                "score_error",
                "alerts_evaluated_at",
                "awaits_baseline",
                "stage_error",
                "stage_requeues",
                "latency_histogram",
                "sampling_note",
            ],
            runs,
        )
        copy_rows(
            "monitor_metricpoint",
            ["endpoint_id", "run_id", "metric", "value", "ci_low", "ci_high", "n", "time"],
            points,
        )
        rollups.rebuild_all()
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval('monitor_run_id_seq', %s)", [run_id])
    # Two alerts per family's newest version, so the overview has open alerts on top.
    for endpoint in endpoints[VERSIONS - 1 :: VERSIONS]:
        last_run = endpoint.runs.order_by("-created_at").first()
        for rule in endpoint.alert_rules.filter(metric__in=["distinct_2", "rare_entity_accuracy"]):
            alert = Alert.objects.create(
                rule=rule,
                endpoint=endpoint,
                state=AlertState.FIRING,
                summary="bench",
                fired_at=last_run.finished_at,
            )
            AlertEvent.objects.create(alert=alert, kind=EventKind.FIRED, run=last_run)
    # What autovacuum would have done to a year of data: statistics and the visibility map
    # (without it, index-only scans still read the heap).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"generated {len(runs):,} runs and {len(points):,} points "
        f"(COPY and roll-ups {time.perf_counter() - started:.1f} s)"
    )


def median_ms(action, repeats: int = REPEATS) -> float:
    action()  # warm caches and connections
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def measure() -> list[Target]:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from monitor.models import Endpoint, MetricPoint
    from monitor.services.roles import VIEWER, assign_role

    user, _ = User.objects.get_or_create(username="bench")
    assign_role(user, VIEWER)
    client, anonymous = Client(HTTP_HOST="127.0.0.1"), Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    endpoint = Endpoint.objects.order_by("pk").last()

    def get(http_client: Client, url: str):
        def fetch() -> None:
            response = http_client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            response.content  # noqa: B018 - rendered in full

        return fetch

    def bare_select() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT metric, time, value, ci_low, ci_high FROM monitor_metricpoint "
                "WHERE endpoint_id = %s",
                [endpoint.pk],
            )
            cursor.fetchall()

    total = MetricPoint.objects.count()
    per_endpoint = MetricPoint.objects.filter(endpoint=endpoint).count()
    empty = median_ms(get(anonymous, reverse("login")))
    select = median_ms(bare_select)
    print(f"{total:,} metric points; endpoint {endpoint} has {per_endpoint:,}")
    print(
        f"reference: empty page (login) {empty:.1f} ms; "
        f"bare SELECT of one endpoint's {per_endpoint:,} points {select:.1f} ms"
    )
    pages = {
        "overview": reverse("endpoint-list"),
        # The page with the fewest chart points: what the rest of the page costs.
        "endpoint, 24 hours": endpoint.get_absolute_url() + "?range=24h",
        "endpoint, 30 days": endpoint.get_absolute_url(),
        "endpoint, all (a year)": endpoint.get_absolute_url() + "?range=all",
    }
    timings = {name: median_ms(get(client, url)) for name, url in pages.items()}
    settings.TAILWATCH_METRICS_TOKEN = "bench"
    scraper = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION="Bearer bench")
    timings["/metrics scrape"] = median_ms(get(scraper, reverse("metrics")))
    for name, ms in timings.items():
        print(f"{name:24} {ms:7.1f} ms  = {ms / empty:5.1f}x the empty page")
    return [
        at_most(
            f"endpoint page, a year of {per_endpoint:,} points",
            timings["endpoint, all (a year)"],
            select,
            0.3,
            "ms",
            "bare SELECT of those points",
        )
    ]


def targets(regenerate: bool = False) -> list[Target]:
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        print("page benchmark skipped: set BENCH_DATABASE_URL=postgres://user@host:5432/db")
        return []
    setup_django(url)
    from monitor.models import MetricPoint

    expected = FAMILIES * VERSIONS * RUNS_PER_ENDPOINT
    if regenerate or MetricPoint.objects.values("run").distinct().count() < expected:
        generate()
    return measure()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regenerate", action="store_true", help="fill the database again")
    print(render(targets(parser.parse_args().regenerate)))


if __name__ == "__main__":
    main()
