"""Soak: the whole pipeline under load and hostile replies, on PostgreSQL and Redis.

Starts the web, worker and beat processes exactly as the Procfile does, against a database and a
Redis db of their own (emptied first), and a fake OpenAI-compatible server in this process that
answers in 50-500 ms, fails 2% of requests (500 or 429), and now and then sends a hostile reply:
a lone surrogate, a NUL, a reply over the 1 MB cap (TAILWATCH_MAX_REPLY_BYTES), or markup. Every
endpoint is due at once; beat's dispatcher starts one run of each, and the script waits until
every run has been scored and judged by the alert rules, loading run pages from the web process
meanwhile. Usage::

    python scripts/soak.py [--endpoints 50] [--prompts 100] [--samples 3] [--no-embeddings]

Then it checks, and exits 1 when any check fails:

* every sample accounted for: endpoints x prompts x samples Sample rows, each a stored text or a
  recorded error, and each hostile reply stored as intended (surrogates and NULs replaced by
  U+FFFD, the oversized reply a "reply too large" error, the markup kept as text and escaped on
  the run page);
* every run finished, scored and evaluated (the alert stage done), none given up on;
* worker and web RSS flat: at the end no more than --max-rss-growth times what it was once the
  first run had been through the whole pipeline (everything loaded by then).

It prints runs/min (runs over the wall time from the first run started to the last one judged)
and samples/s (samples over the sampling window: first run started to last run finished).
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.fake_llm import (  # noqa: E402
    FakeBehaviour,
    FakeLLMServer,
    FakeResponse,
    completion,
    fake_reply,
    parse_completion_request,
)

ADMIN_USERNAME = "soak-admin"
ADMIN_PASSWORD = "soak-admin-password-" + "x" * 20
MARKUP = '<script>window.soakXss = 1</script><img src=x onerror="soakXss()">'
# The hostile replies the fake sends in turn, one every --hostile-every requests.
HOSTILE_REPLIES = {
    "surrogate": "A reply with a lone surrogate \ud800 in the middle.",
    "nul": "A reply with a NUL \x00 in the middle.",
    "oversized": "x" * 2_000_000,
    "markup": f"A reply with markup: {MARKUP}",
}


class SoakBehaviour(FakeBehaviour):
    """The fake under soak: a latency drawn from a range, 500s and 429s, and hostile replies at
    a steady pace, counted by kind so the checks know what to expect."""

    def __init__(self, latency: tuple[float, float], error_rate: float, hostile_every: int):
        super().__init__(seed=12, error_rate=error_rate)
        self.latency_range = latency
        self.hostile_every = hostile_every
        self.hostile_sent = dict.fromkeys(HOSTILE_REPLIES, 0)

    def respond(self, path: str, raw_body: bytes) -> FakeResponse:
        with self._lock:
            self.requests += 1
            number = self.requests
            draw, reply_seed = self._rng.random(), self._rng.random()
            delay = self._rng.uniform(*self.latency_range)
        rng = random.Random(reply_seed)
        if draw < self.error_rate:
            status = rng.choice((500, 429))
            body = b'{"error": {"message": "injected failure"}}'
            headers = {"Retry-After": "1"} if status == 429 else {}
            return FakeResponse(status, body, headers, delay=delay)
        request = parse_completion_request(path, raw_body)
        texts = [fake_reply(prompt, rng) for prompt in request.choice_prompts]
        if number % self.hostile_every == 0:
            kinds = list(HOSTILE_REPLIES)
            kind = kinds[(number // self.hostile_every - 1) % len(kinds)]
            texts[0] = HOSTILE_REPLIES[kind]
            with self._lock:
                self.hostile_sent[kind] += 1
        response = completion(request, texts, rng)
        response.delay = delay
        return response


@dataclass
class Rss:
    """Resident memory of one process, in MiB, at the moments the soak reads it."""

    pid: int
    readings: dict[str, float] = field(default_factory=dict)

    def read(self, moment: str) -> None:
        self.readings[moment] = rss_mib(self.pid)


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children (a worker's pool processes), in MiB."""
    total = 0
    for process in [pid, *child_pids(pid)]:
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except FileNotFoundError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


def procfile_commands() -> dict[str, str]:
    """The Procfile's commands, with its .venv/bin/ read as this interpreter's."""
    bin_dir = Path(sys.executable).parent
    commands = {}
    for line in (REPO / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        commands[name.strip()] = command.strip().replace(".venv/bin/", f"{bin_dir}/")
    return commands


def prepare_database(database_url: str, broker_url: str) -> None:
    """Drop and create the soak's database, migrate it, collect the static files the web serves,
    and empty its Redis db."""
    import psycopg2
    import redis
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("--database-url must be a postgres:// URL")
    admin = psycopg2.connect(
        dbname="postgres",
        user=db["USER"],
        password=db["PASSWORD"],
        host=db["HOST"],
        port=db["PORT"],
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{db["NAME"]}"')
    admin.close()
    redis.Redis.from_url(broker_url).flushdb()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def seed(endpoints: int, prompts: int, samples: int, fake_url: str) -> None:
    """One prompt set and ``endpoints`` endpoints on it, all due now; an admin for the pages."""
    from django.contrib.auth.models import User

    from monitor.models import Endpoint, PromptSet
    from monitor.services.endpoints import save_endpoint
    from monitor.services.prompts import PromptRow, add_version

    User.objects.create_superuser(ADMIN_USERNAME, password=ADMIN_PASSWORD)
    prompt_set = PromptSet.objects.create(name="soak")
    rows = [
        PromptRow(f"open-{i}", "open", f"Write a paragraph about topic {i} and its rivers.")
        for i in range(prompts)
    ]
    add_version(prompt_set, rows, "soak")
    for index in range(endpoints):
        save_endpoint(
            Endpoint(
                name=f"soak-{index:03d}",
                model_family=f"soak-family-{index % 5}",
                version_label=f"v{index}",
                base_url=fake_url,
                model="fake",
                prompt_set=prompt_set,
                samples_per_prompt=samples,
                interval_minutes=24 * 60,
                timeout_seconds=10,
            )
        )


class WebClient:
    """A logged-in browser of the web process: it reads run pages while the soak runs."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.pages_read = 0

    def log_in(self) -> None:
        self.http.get("/login/")
        response = self.http.post(
            "/login/",
            data={
                "username": ADMIN_USERNAME,
                "password": ADMIN_PASSWORD,
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            },
            headers={"Referer": f"{self.http.base_url}login/"},
        )
        if response.status_code != 302:
            sys.exit(f"could not log in to the web process: HTTP {response.status_code}")

    def page(self, path: str) -> str:
        response = self.http.get(path)
        response.raise_for_status()
        self.pages_read += 1
        return response.text


def wait_until_listening(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the web process exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.5)
    sys.exit(f"the web process did not answer at {url} within {seconds:.0f}s")


def pipeline_done(expected_runs: int) -> tuple[bool, int]:
    """Whether every run has been judged (or given up on), and how many have."""
    from monitor.models import Run

    runs = Run.objects.all()
    judged = runs.filter(alerts_evaluated_at__isnull=False).count()
    given_up = runs.filter(alerts_evaluated_at__isnull=True).exclude(stage_error="").count()
    return runs.count() >= expected_runs and judged + given_up >= runs.count(), judged


def check_samples(endpoints: int, prompts: int, samples: int, hostile_sent: dict) -> list[str]:
    """The sample invariants; one line per failure."""
    from django.db.models import Q

    from monitor.models import Sample

    failures = []
    expected = endpoints * prompts * samples
    stored = Sample.objects.count()
    if stored != expected:
        failures.append(f"{stored} samples stored, expected {endpoints}x{prompts}x{samples}")
    unaccounted = Sample.objects.filter(
        Q(error="", text="") | (~Q(error="") & Q(error_kind=""))
    ).count()
    if unaccounted:
        failures.append(f"{unaccounted} samples neither succeeded nor recorded an error")
    replaced = Sample.objects.filter(error="", text__contains="\ufffd").count()
    if replaced != hostile_sent["surrogate"] + hostile_sent["nul"]:
        failures.append(
            f"{replaced} samples with U+FFFD; the fake sent {hostile_sent['surrogate']} lone "
            f"surrogates and {hostile_sent['nul']} NULs"
        )
    too_large = Sample.objects.filter(error_kind="reply too large").count()
    if too_large != hostile_sent["oversized"]:
        failures.append(
            f"{too_large} 'reply too large' samples; the fake sent "
            f"{hostile_sent['oversized']} oversized replies"
        )
    markup = Sample.objects.filter(error="", text__contains=MARKUP).count()
    if markup != hostile_sent["markup"]:
        failures.append(f"{markup} samples kept the markup; the fake sent {hostile_sent['markup']}")
    return failures


def check_runs(endpoints: int) -> list[str]:
    """The run invariants: every run finished, scored when it has samples to score, and judged
    by the alert rules."""
    from monitor.models import SCORABLE_RUN_STATUSES, Run

    failures = []
    runs = Run.objects.all()
    if runs.count() != endpoints:
        failures.append(f"{runs.count()} runs, expected one per endpoint ({endpoints})")
    unfinished = runs.filter(finished_at__isnull=True).count()
    unscored = runs.filter(status__in=SCORABLE_RUN_STATUSES, scored_at__isnull=True).count()
    score_errors = runs.exclude(score_error="").count()
    unjudged = runs.filter(alerts_evaluated_at__isnull=True).count()
    given_up = runs.exclude(stage_error="").count()
    for count, what in (
        (unfinished, "runs not finished"),
        (unscored, "runs not scored"),
        (score_errors, "runs failed to score"),
        (unjudged, "runs not evaluated by the alert rules"),
        (given_up, "runs given up on by the pipeline"),
    ):
        if count:
            failures.append(f"{count} {what}")
    return failures


def check_markup_escaped(web: WebClient) -> list[str]:
    """The run page of a sample with markup shows it as text, never as markup."""
    from monitor.models import Sample

    sample = Sample.objects.filter(error="", text__contains=MARKUP).first()
    if sample is None:
        return []
    page = web.page(f"/runs/{sample.run_id}/")
    if MARKUP in page or "&lt;script&gt;window.soakXss" not in page:
        return [f"run {sample.run_id}'s page does not escape a sample's markup"]
    return []


def check_rss(processes: dict[str, Rss], max_growth: float) -> list[str]:
    failures = []
    for name, rss in processes.items():
        growth = rss.readings["end"] / rss.readings["warm"]
        if growth > max_growth:
            failures.append(
                f"{name} RSS grew {growth:.2f}x after warm-up (at most {max_growth:.2f}x)"
            )
    return failures


def figures() -> dict[str, float]:
    """Throughput, from the runs' own timestamps; nothing while a run is still unfinished."""
    from django.db.models import Max, Min

    from monitor.models import Run, Sample

    runs = Run.objects.all()
    span = runs.aggregate(
        started=Min("started_at"), finished=Max("finished_at"), judged=Max("alerts_evaluated_at")
    )
    if None in span.values() or runs.filter(finished_at__isnull=True).exists():
        return {}
    sampling_seconds = (span["finished"] - span["started"]).total_seconds()
    pipeline_seconds = (span["judged"] - span["started"]).total_seconds()
    samples = Sample.objects.count()
    return {
        "runs": runs.count(),
        "samples": samples,
        "failed samples": Sample.objects.exclude(error="").count(),
        "sampling s": sampling_seconds,
        "pipeline s": pipeline_seconds,
        "runs/min": runs.count() / (pipeline_seconds / 60),
        "samples/s": samples / sampling_seconds,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--prompts", type=int, default=100)
    parser.add_argument("--samples", type=int, default=3, help="Samples per prompt.")
    parser.add_argument(
        "--no-embeddings",
        action="store_true",
        help="Score without sentence embeddings (TAILWATCH_EMBEDDINGS=0); default: on.",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "SOAK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tailwatch_soak"
        ),
        help="Dropped and created again.",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/12"),
        help="The broker; this Redis db is emptied first.",
    )
    parser.add_argument("--error-rate", type=float, default=0.02)
    parser.add_argument("--hostile-every", type=int, default=1000, help="Requests per hostile.")
    parser.add_argument("--max-rss-growth", type=float, default=1.5)
    parser.add_argument("--timeout", type=float, default=3600, help="Seconds to wait at most.")
    return parser.parse_args(argv)


def soak_environment(args: argparse.Namespace, var_dir: Path, web_port: int) -> dict[str, str]:
    """What every process of the soak reads its settings from: the default worker settings on
    the soak's own database, Redis db and files."""
    return {
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.redis_url,
        "TAILWATCH_VAR_DIR": str(var_dir),
        "TAILWATCH_PORT": str(web_port),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "soak-only-secret-key-" + "x" * 40,
        "DJANGO_SETTINGS_MODULE": "monitor.settings",
        "TAILWATCH_EMBEDDINGS": "0" if args.no_embeddings else "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def start_processes(var_dir: Path) -> dict[str, subprocess.Popen]:
    """Web, worker and beat as the Procfile starts them, each logging to a file in ``var_dir``."""
    commands = procfile_commands()
    processes = {}
    for name in ("web", "worker", "beat"):
        log = (var_dir / f"{name}.log").open("w")
        processes[name] = subprocess.Popen(
            ["bash", "-c", "exec " + commands[name]],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return processes


def stop_processes(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    var_dir = Path(tempfile.mkdtemp(prefix="tailwatch-soak-"))
    web_port = 8000 + random.randrange(1000, 9000)
    os.environ.update(soak_environment(args, var_dir, web_port))
    import django

    django.setup()
    prepare_database(args.database_url, args.redis_url)
    behaviour = SoakBehaviour((0.05, 0.5), args.error_rate, args.hostile_every)
    fake = FakeLLMServer(behaviour).start()
    seed(args.endpoints, args.prompts, args.samples, fake.url)
    processes = start_processes(var_dir)
    print(
        f"soak: {args.endpoints} endpoints x {args.prompts} prompts x {args.samples} samples, "
        f"embeddings {'off' if args.no_embeddings else 'on'}; logs in {var_dir}",
        flush=True,
    )
    memory = {name: Rss(processes[name].pid) for name in ("worker", "web")}
    failures: list[str] = []
    started = time.monotonic()
    web = WebClient(f"http://127.0.0.1:{web_port}")
    try:
        wait_until_listening(f"http://127.0.0.1:{web_port}/healthz", processes["web"])
        web.log_in()
        for rss in memory.values():
            rss.read("idle")
        failures += wait_for_pipeline(args, processes, memory, web, started)
        for rss in memory.values():
            rss.read("end")
        if not failures:
            failures += check_samples(
                args.endpoints, args.prompts, args.samples, behaviour.hostile_sent
            )
            failures += check_runs(args.endpoints)
            failures += check_markup_escaped(web)
            failures += check_rss(memory, args.max_rss_growth)
    finally:
        stop_processes(processes)
        fake.stop()
    report(behaviour, memory, web, time.monotonic() - started, failures)
    return 1 if failures else 0


def wait_for_pipeline(args, processes, memory, web, started) -> list[str]:
    """Wait until every run is judged, reading pages meanwhile; what went wrong on the way."""
    from monitor.models import Run, Sample

    deadline = started + args.timeout
    last_progress = 0.0
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                return [f"the {name} process exited with {process.returncode}"]
        done, judged = pipeline_done(args.endpoints)
        if (judged or done) and "warm" not in memory["worker"].readings:
            for rss in memory.values():
                rss.read("warm")
        if done:
            return []
        web.page("/")
        for run_id in Run.objects.order_by("?").values_list("pk", flat=True)[:2]:
            web.page(f"/runs/{run_id}/")
        if time.monotonic() - last_progress > 30:
            last_progress = time.monotonic()
            print(
                f"  {time.monotonic() - started:5.0f}s: {judged} of {args.endpoints} runs "
                f"judged, {Sample.objects.count()} samples stored, {web.pages_read} pages read",
                flush=True,
            )
        time.sleep(2)
    return [f"the pipeline did not finish within {args.timeout:.0f}s"]


def report(behaviour, memory, web, wall_seconds, failures) -> None:
    print(
        f"wall time {wall_seconds:.0f}s; fake server: {behaviour.requests} requests, hostile "
        f"replies sent {behaviour.hostile_sent}; {web.pages_read} pages read"
    )
    for name, value in figures().items():
        print(
            f"  {name:>15}: {value:,.1f}"
            if isinstance(value, float)
            else f"  {name:>15}: {value:,}"
        )
    for name, rss in memory.items():
        readings = ", ".join(f"{moment} {mib:.0f} MiB" for moment, mib in rss.readings.items())
        ratio = ""
        if {"warm", "end"} <= rss.readings.keys():
            ratio = f" (end/warm {rss.readings['end'] / rss.readings['warm']:.2f})"
        print(f"  {name} RSS: {readings}{ratio}")
    print(f"command: {shlex.join([sys.argv[0], *sys.argv[1:]])}")
    if failures:
        print("FAIL")
        for line in failures:
            print(f"  - {line}")
    else:
        print("PASS: every sample accounted for, every run scored and evaluated, RSS flat")


if __name__ == "__main__":
    sys.exit(main())
