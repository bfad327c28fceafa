"""Fixtures shared by the suite: the fake model server, a small collapse lab, real Celery workers,
service checks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from evaluators.embedding import SentenceTransformerEncoder
from lab import CorpusSettings, Lab, LabConfig
from monitor.fake_llm import FakeBehaviour, FakeLLMServer

REPO = Path(__file__).resolve().parent.parent
# CI sets this: a test that needs PostgreSQL or Redis then fails instead of skipping.
REQUIRE_SERVICES = os.environ.get("TAILWATCH_REQUIRE_SERVICES") == "1"


def require_service(name: str, available: bool) -> None:
    if available:
        return
    message = f"needs {name}: set {'TEST_DATABASE_URL' if name == 'PostgreSQL' else 'REDIS_URL'}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (TAILWATCH_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(message)


# When the running test must be done (pytest-timeout's limit, less time to print worker logs):
# no wait goes past it, so a slow test fails with its logs instead of being killed.
_test_deadline: float | None = None
DEADLINE_MARGIN_SECONDS = 20.0


@pytest.fixture(autouse=True)
def test_deadline(request) -> Iterator[None]:
    global _test_deadline
    marker = request.node.get_closest_marker("timeout")
    limit = float(marker.args[0] if marker else request.config.getini("timeout") or 0)
    _test_deadline = time.monotonic() + limit - DEADLINE_MARGIN_SECONDS if limit else None
    yield
    _test_deadline = None


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.2) -> object:
    """Poll until ``predicate`` returns something truthy; fail the test after ``timeout``, or
    sooner if the test's own time limit comes first."""
    deadline = time.monotonic() + timeout
    if _test_deadline is not None:
        deadline = min(deadline, _test_deadline)
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s: {getattr(predicate, '__doc__', '')}")


def run_through_pipeline(endpoint, timeout: float = 60):
    """Start a run of ``endpoint`` and wait while workers sample, score and alert on it."""
    from monitor.services import sampling

    return wait_until_alerted(sampling.start_run(endpoint), timeout)


def wait_until_alerted(run, timeout: float = 60):
    """Wait for what a user sees at the end of the pipeline: every alert rule has judged the run
    (the alert changes commit with that), and each notification it caused was sent or failed."""
    from monitor.models import Notification, NotificationStatus

    def alerted():
        """every rule judged the run and its notifications were delivered"""
        run.refresh_from_db()
        undelivered = Notification.objects.filter(
            event__run=run, status__in=(NotificationStatus.PENDING, NotificationStatus.SENDING)
        )
        return run.alerts_evaluated_at is not None and not undelivered.exists()

    wait_for(alerted, timeout=timeout, interval=0.3)
    return run


@pytest.fixture(autouse=True)
def enqueued(request, monkeypatch) -> list[tuple[str, list]]:
    """The broker messages a test's code produced (task name, args), recorded instead of
    published. Integration tests publish for real, to the workers they start."""
    sent: list[tuple[str, list]] = []
    if request.node.get_closest_marker("integration") is None:
        from monitor import queue

        def record(name: str, args=(), **options) -> None:
            sent.append((name, list(args)))

        monkeypatch.setattr(queue.app, "send_task", record)
    return sent


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(FakeBehaviour(seed=1)) as server:
        yield server


# A third of the probed entities and fewer extra cities, so a generation trains in a fraction of
# a second: for the lab's own tests and for the view and command that serve it.
SMALL_LAB_CONFIG = LabConfig(seed=0, probe_stride=3, corpus=CorpusSettings(extra_cities=1500))


@pytest.fixture(scope="session")
def small_lab() -> Lab:
    return Lab(SMALL_LAB_CONFIG)


@pytest.fixture(scope="session")
def real_encoder() -> SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 from the bundled package, loaded once for the session."""
    encoder = SentenceTransformerEncoder()
    encoder.encode(["warm up"])
    return encoder


def database_url() -> str:
    """The URL of the database the tests use now (the test database, not the configured one)."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcesses:
    """Real ``celery worker`` processes against the test database and broker."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict[str, str]:
        from django.conf import settings

        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "monitor.settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "TAILWATCH_VAR_DIR": str(settings.VAR_DIR),
            "SECRET_KEY": settings.SECRET_KEY,
            **extra,
        }

    def start(self, *args: str, app: str = "monitor", **env: str) -> subprocess.Popen:
        index = len(self.processes)
        log = (self.log_dir / f"celery-{index}.log").open("w")
        command = [sys.executable, "-m", "celery", "-A", app, *args]
        # A session of its own: stop_all can end the pool processes a worker forked, too.
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=self.env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def worker(self, app: str = "monitor", pool: str = "solo", **env: str) -> subprocess.Popen:
        # The solo pool runs tasks in the worker's own process, so killing it kills the task;
        # the threads pool (the Procfile's) goes on listening to the broker while tasks run.
        return self.start(
            "worker",
            f"--pool={pool}",
            "--queues=default,sampling,scoring",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
            app=app,
            **env,
        )

    def beat(self, **env: str) -> subprocess.Popen:
        return self.start(
            "beat", "--loglevel=INFO", f"--schedule={self.log_dir / 'beat-schedule'}", **env
        )

    def logged(self, text: str) -> bool:
        """Whether any worker or beat has written ``text`` to its log so far."""
        return any(text in path.read_text() for path in self.log_dir.glob("celery-*.log"))

    def log(self, process: subprocess.Popen) -> str:
        """What ``process`` (started here) has written so far."""
        return (self.log_dir / f"celery-{self.processes.index(process)}.log").read_text()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-4000:]}"
            for path in sorted(self.log_dir.glob("celery-*.log"))
        )

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            # Whatever the worker forked and left behind (a prefork pool's children).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def celery_processes(transactional_db, tmp_path: Path, request) -> Iterator[WorkerProcesses]:
    """Start real workers and beat on demand; purges the queues first, stops them after."""
    from monitor.celery import app

    app.control.purge()
    processes = WorkerProcesses(tmp_path)
    yield processes
    processes.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(processes.logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether the test failed, to print worker logs only then.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def unused_port() -> int:
    """A local port with nothing listening: connecting to it is refused."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
