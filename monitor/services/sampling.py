"""Sample: decide which endpoints are due, create their runs, and fill each run with samples.

A run is owned by one worker at a time through a lease (``Run.lease_token`` and
``Run.lease_expires_at``). The worker renews it while it samples; when a worker dies, its lease
lapses and ``requeue_stale_runs`` hands the run to another worker, which samples only the slots
still missing. The unique (run, prompt, sample index) constraint makes a second write of a slot
impossible, so at-least-once delivery never yields duplicate samples.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from monitor import queue
from monitor.clients.egress import EgressRefusedError
from monitor.clients.openai_compatible import (
    Completion,
    CompletionFailure,
    OpenAICompatibleClient,
    RetryBudget,
    RetryPolicy,
)
from monitor.models import (
    ACTIVE_RUN_STATUSES,
    ApiKeyUnavailableError,
    Endpoint,
    Prompt,
    Run,
    RunStatus,
    RunTrigger,
    Sample,
)
from monitor.services import provenance_index

log = logging.getLogger(__name__)

# With no success yet, this many failures in a row means the endpoint is down: stop the run
# rather than wait out every remaining request's retries.
UNREACHABLE_AFTER_FAILURES = 5
# How often a sampling worker publishes its run's progress (and renews its lease, at least).
PROGRESS_EVERY_SECONDS = 1.0
# A run whose workers keep dying (a poison run) is given up after this many takes.
MAX_RUN_ATTEMPTS = 5


class RunNotStartedError(Exception):
    """Why a run could not be created, in words for the user."""


def _lease_length() -> timedelta:
    return timedelta(seconds=settings.TAILWATCH_RUN_LEASE_SECONDS)


def start_run(endpoint: Endpoint, trigger: str = RunTrigger.MANUAL) -> Run:
    """Create a queued run of ``endpoint`` on its prompt set's newest version, and queue it."""
    if endpoint.prompt_set is None:
        raise RunNotStartedError(f"{endpoint} has no prompt set.")
    version = endpoint.prompt_set.latest_version
    prompt_count = version.prompts.count() if version else 0
    if not prompt_count:
        raise RunNotStartedError(f"Prompt set {endpoint.prompt_set} has no prompts yet.")
    active = endpoint.active_run
    if active is not None:
        raise RunNotStartedError(f"{endpoint} is already running (run {active.pk}).")
    run = Run.objects.create(
        endpoint=endpoint,
        prompt_set_version=version,
        trigger=trigger,
        request_params=endpoint.request_params(),
        samples_per_prompt=endpoint.samples_per_prompt,
        samples_expected=prompt_count * endpoint.samples_per_prompt,
    )
    transaction.on_commit(lambda: queue.sample_run(run.pk))
    return run


def dispatch_due_runs(now: datetime | None = None) -> list[Run]:
    """Start a run for every enabled endpoint whose next run time has come."""
    now = now or timezone.now()
    due = Endpoint.objects.filter(enabled=True, prompt_set__isnull=False).filter(
        Q(next_run_at__isnull=True) | Q(next_run_at__lte=now)
    )
    started = []
    for endpoint in due:
        try:
            with transaction.atomic():
                run = _dispatch(endpoint, now)
        except Exception:
            # One endpoint whose row cannot be scheduled (written around the form's checks)
            # must not stop the schedule of every other: it is logged, and stays overdue on
            # /healthz until it is fixed.
            log.exception("endpoint %s (%s): could not schedule its run", endpoint.pk, endpoint)
            continue
        if run is not None:
            started.append(run)
    return started


def _dispatch(endpoint: Endpoint, now: datetime) -> Run | None:
    # Moving next_run_at is the claim: of two dispatchers that read the same row, only the one
    # whose update still matches the old value starts the run.
    claimed = Endpoint.objects.filter(pk=endpoint.pk, next_run_at=endpoint.next_run_at).update(
        next_run_at=now + endpoint.interval
    )
    if not claimed:
        return None
    try:
        with transaction.atomic():
            return start_run(endpoint, RunTrigger.SCHEDULE)
    except RunNotStartedError as exc:
        log.info("skipped scheduled run: %s", exc)
        return None


def requeue_stale_runs(now: datetime | None = None) -> list[Run]:
    """Queue again the runs whose worker died (lease lapsed) or whose message was lost."""
    now = now or timezone.now()
    stale_before = now - _lease_length()
    stale = Run.objects.filter(
        Q(status=RunStatus.RUNNING, lease_expires_at__lt=now)
        | Q(status=RunStatus.QUEUED, enqueued_at__lt=stale_before)
        | Q(status=RunStatus.QUEUED, enqueued_at__isnull=True, created_at__lt=stale_before)
    ).filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale_before))
    requeued = []
    for run in stale:
        if run.attempts >= MAX_RUN_ATTEMPTS:
            _give_up(run, now)
            continue
        log.warning("re-queuing run %s (%s, lease lapsed or message lost)", run.pk, run.status)
        if queue.sample_run(run.pk):
            requeued.append(run)
    return requeued


def _give_up(run: Run, now: datetime) -> None:
    succeeded, failed = run.count_samples()
    Run.objects.filter(pk=run.pk, status__in=ACTIVE_RUN_STATUSES).update(
        status=RunStatus.FAILED,
        samples_succeeded=succeeded,
        samples_failed=failed,
        error_summary=f"gave up: {run.attempts} workers stopped before finishing this run",
        finished_at=now,
        latency_histogram=run.count_latencies(),
        lease_token="",
        lease_expires_at=None,
    )


def claim_run(run_id: int, token: str, now: datetime | None = None) -> Run | None:
    """Take the run for this worker, unless it is finished or another live worker holds it."""
    now = now or timezone.now()
    claimed = (
        Run.objects.filter(pk=run_id, status__in=ACTIVE_RUN_STATUSES)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            status=RunStatus.RUNNING,
            lease_token=token,
            lease_expires_at=now + _lease_length(),
            started_at=Coalesce("started_at", now),
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    return Run.objects.select_related("endpoint", "prompt_set_version").get(pk=run_id)


def _renew_lease(run: Run, token: str) -> bool:
    """Push the lease forward and publish progress; False if another worker took the run."""
    succeeded, failed = run.count_samples()
    return bool(
        Run.objects.filter(pk=run.pk, lease_token=token).update(
            lease_expires_at=timezone.now() + _lease_length(),
            samples_succeeded=succeeded,
            samples_failed=failed,
        )
    )


def record_sample(
    run: Run, prompt: Prompt, index: int, outcome: Completion | CompletionFailure
) -> bool:
    """Store one slot's outcome; False when the slot was already filled (a resumed duplicate)."""
    fields: dict = {"latency_ms": outcome.latency_ms, "attempts": outcome.attempts}
    if isinstance(outcome, Completion):
        fields.update(
            text=outcome.text,
            finish_reason=outcome.finish_reason[:50],
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
        )
    else:
        fields.update(error_kind=outcome.kind[:50], error=outcome.message or outcome.kind)
    try:
        with transaction.atomic():
            Sample.objects.create(run=run, prompt=prompt, sample_index=index, **fields)
    except IntegrityError:
        return False
    return True


def client_for(run: Run) -> OpenAICompatibleClient:
    return OpenAICompatibleClient.from_request_params(
        run.request_params,
        run.endpoint.get_api_key(),
        max_connections=run.endpoint.concurrency,
        policy=RetryPolicy(
            max_attempts=settings.TAILWATCH_REQUEST_ATTEMPTS,
            backoff_base=settings.TAILWATCH_BACKOFF_BASE_SECONDS,
        ),
        budget=RetryBudget.for_requests(run.samples_expected),
    )


def sample_run(run_id: int) -> Run | None:
    """Fill every missing slot of the run, then mark it succeeded, partial or failed.

    Returns None when there was nothing to do (finished, or held by a live worker).
    """
    token = uuid.uuid4().hex
    run = claim_run(run_id, token)
    if run is None:
        return None
    try:
        client = client_for(run)
    except ApiKeyUnavailableError as exc:
        return finish_run(run, token, failure=f"API key unavailable: {exc}")
    except EgressRefusedError as exc:
        return finish_run(run, token, failure=f"refused: {exc}")
    with client:
        failure = _sample_missing_slots(run, token, client)
    if failure == _LEASE_LOST:
        return None
    return finish_run(run, token, failure=failure, sampling_note=client.batch_fallback)


_LEASE_LOST = "lease lost"


class SlotRequests:
    """The requests still to send for a run's missing slots: a prompt's slots in one request
    while the client asks for several samples at once, one slot a request otherwise."""

    def __init__(self, slots: list[tuple[Prompt, int]], client: OpenAICompatibleClient) -> None:
        self._client = client
        by_prompt = itertools.groupby(slots, key=lambda slot: slot[0])
        self._requests = deque(
            (prompt, [index for _, index in group]) for prompt, group in by_prompt
        )

    def next(self) -> tuple[Prompt, list[int]] | None:
        if not self._requests:
            return None
        prompt, indices = self._requests.popleft()
        if len(indices) > 1 and not self._client.batches_samples:
            self._requests.extendleft((prompt, [index]) for index in reversed(indices[1:]))
            indices = indices[:1]
        return prompt, indices

    def put_back(self, prompt: Prompt, indices: list[int]) -> None:
        """Slots a request brought no outcome for (the server gave fewer samples): next."""
        if indices:
            self._requests.appendleft((prompt, indices))


class EndpointHealth:
    """Whether the endpoint answers, counted a request at a time."""

    def __init__(self) -> None:
        self.successes = 0
        self.failures_in_a_row = 0
        self.last_failure: CompletionFailure | None = None

    def count(self, outcomes: list[Completion | CompletionFailure]) -> None:
        """One request's outcomes (none: the server refused to batch, which says nothing)."""
        if any(isinstance(outcome, Completion) for outcome in outcomes):
            self.successes, self.failures_in_a_row = self.successes + 1, 0
        elif outcomes:
            self.failures_in_a_row += 1
            self.last_failure = outcomes[0]

    @property
    def unreachable(self) -> bool:
        return self.successes == 0 and self.failures_in_a_row >= UNREACHABLE_AFTER_FAILURES


def _sample_missing_slots(run: Run, token: str, client: OpenAICompatibleClient) -> str:
    """Sample the run's missing slots with bounded concurrency.

    Returns "" when every slot was tried, ``_LEASE_LOST`` when another worker took over, or the
    reason the endpoint was given up as unreachable.
    """
    requests = SlotRequests(run.missing_slots(), client)
    renew_every = max(PROGRESS_EVERY_SECONDS, settings.TAILWATCH_RUN_LEASE_SECONDS / 4)
    health = EndpointHealth()
    last_renewal = time.monotonic()
    pending: dict[Future, tuple[Prompt, list[int]]] = {}
    with ThreadPoolExecutor(max_workers=run.endpoint.concurrency) as pool:

        def top_up() -> None:
            # Submit only as many requests as may be in flight, so that a decision to stop
            # (lease lost, endpoint down) leaves no queue of requests behind it.
            for _ in range(run.endpoint.concurrency - len(pending)):
                request = requests.next()
                if request is None:
                    return
                prompt, indices = request
                pending[pool.submit(client.complete_samples, prompt.text, len(indices))] = request

        top_up()
        while pending:
            # Waking up at least every renew_every keeps the lease fresh even while every request
            # in flight is stuck waiting out a slow endpoint.
            done, _ = wait(pending, timeout=renew_every, return_when=FIRST_COMPLETED)
            finished = []
            for future in done:
                prompt, indices = pending.pop(future)
                outcomes = _outcomes(future, len(indices))
                health.count(outcomes)
                requests.put_back(prompt, indices[len(outcomes) :])
                finished += zip(itertools.repeat(prompt), indices, outcomes, strict=False)
            stop = ""
            # Renewing counts the run's samples: once a second is often enough for the progress
            # figure, and keeps that query off every single completion of a fast endpoint.
            if time.monotonic() - last_renewal >= PROGRESS_EVERY_SECONDS:
                if _renew_lease(run, token):
                    last_renewal = time.monotonic()
                else:
                    stop = _LEASE_LOST
            if not stop and health.unreachable:
                stop = f"endpoint unreachable: {health.last_failure.message}"
            if not stop:
                # The next requests go out before these samples are written, so the endpoint
                # does not sit idle while the database works.
                top_up()
            for prompt, index, outcome in finished:
                record_sample(run, prompt, index, outcome)
            if stop:
                return stop
    return ""


def _outcomes(future: Future, asked: int) -> list[Completion | CompletionFailure]:
    try:
        return future.result()
    except Exception as exc:
        # The client turns every endpoint fault into a CompletionFailure; anything else is our
        # bug, recorded against the samples so the run still finishes and the error is visible.
        log.exception("sampling request raised")
        failure = CompletionFailure(
            kind="internal error", message=repr(exc), attempts=1, latency_ms=0, retryable=False
        )
        return [failure] * asked


def finish_run(run: Run, token: str, failure: str = "", sampling_note: str = "") -> Run:
    """Set the final status from the stored samples, and release the lease; ``sampling_note``
    says how the samples were asked for when not as the endpoint is set (kept if empty, as a
    resumed run's first worker may have written it)."""
    succeeded, failed = run.count_samples()
    if failure or succeeded == 0:
        status = RunStatus.FAILED
    elif failed:
        status = RunStatus.PARTIAL
    else:
        status = RunStatus.SUCCEEDED
    summary = "; ".join(part for part in (failure, run.summarize_errors()) if part)
    Run.objects.filter(pk=run.pk, lease_token=token).update(
        status=status,
        samples_succeeded=succeeded,
        samples_failed=failed,
        error_summary=summary,
        finished_at=timezone.now(),
        latency_histogram=run.count_latencies(),
        lease_token="",
        lease_expires_at=None,
        **({"sampling_note": sampling_note} if sampling_note else {}),
    )
    run.refresh_from_db()
    log.info("run %s %s: %s ok, %s failed", run.pk, run.status, succeeded, failed)
    _add_to_output_index(run)
    return run


def _add_to_output_index(run: Run) -> None:
    # The run's outputs are final now: the provenance index grows here rather than being
    # rebuilt by a scan. A failure leaves them to the next scan's catch-up, not the run's fate.
    try:
        provenance_index.index_run(run)
    except Exception:
        log.exception("run %s: outputs not added to the provenance index", run.pk)
