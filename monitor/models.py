"""What Tailwatch stores: endpoints, versioned prompt sets, runs and their samples.

The pipeline reads and writes these tables in order: an ``Endpoint`` is due, a ``Run`` is created
against the endpoint's current ``PromptSetVersion``, and the run's worker fills one ``Sample`` per
(prompt, sample index) slot.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone

from evaluators import METRIC_KEYS, METRICS
from evaluators.policy import DEFAULT_POLICY
from monitor import crypto
from monitor.clients.egress import EgressPolicy


def validate_one_line(value: str) -> None:
    """Names go into email subjects and chat messages, where a line break would end a header
    or start a line of its own: one line of text, without control characters."""
    if any(unicodedata.category(char) in {"Cc", "Zl", "Zp"} for char in value):
        raise ValidationError("Use one line of text: no line breaks or control characters.")


class PromptSet(models.Model):
    """A named set of prompts. Its content lives in numbered, immutable versions."""

    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[validate_one_line],
        help_text="Shown wherever the set is used.",
    )
    description = models.TextField(blank=True, help_text="What the set probes, and its source.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("promptset-detail", args=[self.pk])

    @property
    def latest_version(self) -> PromptSetVersion | None:
        return self.versions.order_by("-number").first()


class PromptSetVersion(models.Model):
    """One frozen list of prompts. Runs point here, so a time series compares like with like."""

    prompt_set = models.ForeignKey(PromptSet, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(help_text="1 for the first upload, then 2, 3, …")
    source_name = models.CharField(max_length=255, blank=True, help_text="The uploaded file.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["prompt_set", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["prompt_set", "number"], name="unique_promptset_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.prompt_set.name} v{self.number}"

    @property
    def is_used(self) -> bool:
        return self.runs.exists()

    def kind_counts(self) -> dict[str, int]:
        return dict(Counter(self.prompts.values_list("kind", flat=True)))


class PromptKind(models.TextChoices):
    OPEN = "open", "Open-ended prompt"
    PROBE = "probe", "Factual probe"


class PromptInUseError(ValidationError):
    """Raised when something tries to change a prompt that a run already used."""


class Prompt(models.Model):
    version = models.ForeignKey(PromptSetVersion, on_delete=models.CASCADE, related_name="prompts")
    key = models.CharField(
        max_length=200, help_text="Stable id from the uploaded file; the same across versions."
    )
    position = models.PositiveIntegerField(help_text="Order in the uploaded file.")
    kind = models.CharField(max_length=10, choices=PromptKind.choices, default=PromptKind.OPEN)
    text = models.TextField(help_text="Sent to the model as the user message.")
    gold = models.JSONField(
        default=list, blank=True, help_text="Factual probes: accepted answers (aliases)."
    )
    popularity = models.FloatField(
        null=True,
        blank=True,
        help_text="Factual probes: how well known the entity asked about is (e.g. population).",
    )

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="unique_prompt_key_per_version")
        ]

    def __str__(self) -> str:
        return self.key

    def save(self, *args, **kwargs) -> None:
        # Changing a used prompt would silently rewrite the history of every series built on it.
        if self.pk and self.version.is_used:
            raise PromptInUseError(f"{self.version} was used by a run; upload a new version.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.version.is_used:
            raise PromptInUseError(f"{self.version} was used by a run; its prompts are frozen.")
        return super().delete(*args, **kwargs)


class ProviderKind(models.TextChoices):
    CHAT = "chat", "OpenAI-compatible chat completions (/chat/completions)"
    COMPLETIONS = "completions", "OpenAI-compatible legacy completions (/completions)"


def validate_http_url(value: str) -> None:
    """An http(s) URL with a host. Unlike Django's URLValidator, single-label hosts such as
    ``vllm`` or ``ollama`` pass: inside a cluster, model servers are often named just so."""
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:  # e.g. an unclosed IPv6 bracket, http://[::1/
        parts, port_ok = None, False
    if not port_ok or parts.scheme not in {"http", "https"} or not parts.hostname or " " in value:
        raise ValidationError(
            "Enter an http:// or https:// URL with a host, e.g. http://vllm:8000/v1."
        )


def validate_outbound_url(value: str) -> None:
    """A URL Tailwatch will send requests to: http(s), and, when its host is an IP address, one
    the egress policy allows. Names are checked when resolved, at each request."""
    validate_http_url(value)
    host = urlsplit(value).hostname
    refusal = EgressPolicy.configured().literal_refusal(host)
    if refusal:
        raise ValidationError(f"{host} is {refusal}.")


def validate_credential_free_url(value: str, instead: str = "") -> None:
    """An outbound URL without a user name or password in it: they would be stored and shown in
    the clear. ``instead`` says where credentials go."""
    validate_outbound_url(value)
    if "@" in urlsplit(value).netloc:
        raise ValidationError(f"Remove the user name and password from the URL{instead}.")


def validate_base_url(value: str) -> None:
    """A model server's API root: an outbound URL that names no credentials and has no query or
    fragment (the request path is this path and the API kind's)."""
    validate_credential_free_url(value, instead="; give the key as the API key")
    if "?" in value or "#" in value:
        raise ValidationError("A base URL has no query (?) or fragment (#).")


def is_key_variable(name: str) -> bool:
    """Whether an endpoint may read its API key from the environment variable ``name``."""
    prefix = settings.TAILWATCH_KEY_ENV_PREFIX
    return name.startswith(prefix) and len(name) > len(prefix)


def validate_api_key_env(value: str) -> None:
    if not is_key_variable(value):
        prefix = settings.TAILWATCH_KEY_ENV_PREFIX
        raise ValidationError(
            f"Only variables whose names start with {prefix} may hold API keys, "
            f"e.g. {prefix}OPENAI."
        )


def url_origin(url: str) -> str:
    """The server a URL's requests go to, as scheme://host[:port]."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


MAX_INTERVAL_MINUTES = 365 * 24 * 60


class ApiKeyUnavailableError(Exception):
    """The endpoint's API key cannot be read: a missing variable or an undecryptable value."""


class Endpoint(models.Model):
    """A model behind an OpenAI-compatible HTTP API, sampled on a schedule."""

    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[validate_one_line],
        help_text="A short unique name.",
    )
    model_family = models.CharField(
        max_length=100, help_text="Groups versions of one model for comparison, e.g. 'support-bot'."
    )
    version_label = models.CharField(
        max_length=100, blank=True, help_text="This endpoint's version of the family, e.g. 'v3'."
    )
    provider_kind = models.CharField(
        max_length=20, choices=ProviderKind.choices, default=ProviderKind.CHAT
    )
    base_url = models.CharField(
        max_length=500,
        validators=[validate_base_url],
        help_text="The API root that /chat/completions is appended to, "
        "e.g. https://api.openai.com/v1 or http://vllm:8000/v1.",
    )
    model = models.CharField(max_length=200, help_text="The model id sent in each request.")
    api_key_encrypted = models.TextField(
        blank=True, editable=False, help_text="The API key, encrypted at rest."
    )
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        validators=[validate_api_key_env],
        help_text="Or: the name of an environment variable that holds the API key on the "
        "workers, starting with TAILWATCH_KEY_ (the TAILWATCH_KEY_ENV_PREFIX setting).",
    )
    api_key_origin = models.CharField(
        max_length=600,
        blank=True,
        editable=False,
        help_text="The server (scheme://host:port) the API key was given for: stored or read "
        "from the environment, the key is sent to no other.",
    )
    temperature = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)]
    )
    top_p = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    max_tokens = models.PositiveIntegerField(default=256, validators=[MinValueValidator(1)])
    extra_params = models.JSONField(
        default=dict, blank=True, help_text="Extra JSON fields merged into every request body."
    )
    prompt_set = models.ForeignKey(
        PromptSet,
        on_delete=models.PROTECT,
        null=True,
        related_name="endpoints",
        help_text="Each run uses the newest version of this set.",
    )
    samples_per_prompt = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Several samples per prompt show whether the model still varies its answers.",
    )
    interval_minutes = models.PositiveIntegerField(
        default=24 * 60,
        validators=[
            MinValueValidator(1, "At least 1 minute."),
            # A run at most a year apart keeps every planned time a date the database can hold.
            MaxValueValidator(
                MAX_INTERVAL_MINUTES, f"At most a year ({MAX_INTERVAL_MINUTES:,} minutes)."
            ),
        ],
        help_text=f"Minutes between runs, from 1 to a year ({MAX_INTERVAL_MINUTES:,}).",
    )
    concurrency = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(64)],
        help_text="Most requests in flight to this endpoint at once.",
    )
    batch_samples = models.BooleanField(
        default=False,
        help_text="Ask for a prompt's samples in one request (the API's n), for servers that "
        "honour n, such as OpenAI and vLLM. Off: one request per sample. A server that gives "
        "fewer samples or refuses n is sampled one request per sample, and the run says so.",
    )
    timeout_seconds = models.FloatField(
        default=60.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(600)],
        help_text="Per request.",
    )
    enabled = models.BooleanField(default=True, help_text="Paused endpoints are not sampled.")
    next_run_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next scheduled run starts; empty: at once."
    )
    baseline_run = models.ForeignKey(
        "Run",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The run later runs are compared with. Empty: the run baseline_window good "
        "runs back.",
    )
    baseline_endpoint = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="With no pinned run: compare with this endpoint's latest good run instead of "
        "this endpoint's own history, e.g. a new version with the version it replaces.",
    )
    baseline_window = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="With no pinned baseline, compare each run with the good run this many "
        "good runs before it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model_family", "version_label", "name"]
        permissions = [
            ("run_endpoint", "Can run an endpoint now and test its connection"),
            (
                "bind_key_variable",
                "Can have an endpoint send the API key held in a TAILWATCH_KEY_ variable",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # A key is bound to the server it is first saved with; an endpoint without one has none.
        if not (self.api_key_env or self.api_key_encrypted):
            self.api_key_origin = ""
        elif not self.api_key_origin:
            self.api_key_origin = url_origin(self.base_url)
        update_fields = kwargs.get("update_fields")
        if update_fields and "api_key_origin" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "api_key_origin"]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("endpoint-detail", args=[self.pk])

    def clean(self) -> None:
        if self.pk and self.baseline_endpoint_id == self.pk:
            raise ValidationError(
                {"baseline_endpoint": "An endpoint cannot be its own baseline endpoint."}
            )

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self.interval_minutes)

    # API key: written once, never shown again -----------------------------------------------
    def set_api_key(self, raw_key: str) -> None:
        """Store ``raw_key`` for the server of the current base URL ("": remove the stored key)."""
        self.api_key_encrypted = crypto.encrypt(raw_key) if raw_key else ""
        if raw_key:
            self.bind_api_key()

    def bind_api_key(self) -> None:
        """Send the key to the server of the current base URL, and to no other."""
        self.api_key_origin = url_origin(self.base_url)

    def get_api_key(self) -> str:
        """The key to send, or "" for endpoints that need none. A key is sent only to the server
        it was bound to: whoever may edit the base URL must not receive the key by moving it."""
        if (self.api_key_env or self.api_key_encrypted) and (
            url_origin(self.base_url) != self.api_key_origin
        ):
            raise ApiKeyUnavailableError(
                f"the API key is bound to {self.api_key_origin or 'no server'}, not to "
                f"{url_origin(self.base_url)}: enter the key again for the new base URL "
                "(a key variable: an admin sets it again)"
            )
        if self.api_key_env:
            if not is_key_variable(self.api_key_env):
                raise ApiKeyUnavailableError(
                    f"environment variable {self.api_key_env} may not hold an API key: only "
                    f"names starting with {settings.TAILWATCH_KEY_ENV_PREFIX} are read"
                )
            value = os.environ.get(self.api_key_env)
            if value is None:
                raise ApiKeyUnavailableError(
                    f"environment variable {self.api_key_env} is not set where Tailwatch runs "
                    "(the web and worker processes)"
                )
            return value
        if self.api_key_encrypted:
            try:
                return crypto.decrypt(self.api_key_encrypted)
            except crypto.DecryptionError as exc:
                raise ApiKeyUnavailableError(
                    "the stored API key cannot be decrypted (was SECRET_KEY or "
                    "TAILWATCH_ENCRYPTION_KEY changed?); enter the key again"
                ) from exc
        return ""

    @property
    def api_key_source(self) -> str:
        if self.api_key_env:
            return f"from ${self.api_key_env}"
        return "stored, encrypted" if self.api_key_encrypted else "none"

    # Runs --------------------------------------------------------------------------------------
    def request_params(self) -> dict:
        """The request settings a run freezes, so its figures can be traced to what was asked."""
        return {
            "provider_kind": self.provider_kind,
            "base_url": self.base_url,
            "model": self.model,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "extra": self.extra_params,
            "timeout_seconds": self.timeout_seconds,
            "batch_samples": self.batch_samples,
        }

    @property
    def active_run(self) -> Run | None:
        return self.runs.filter(status__in=ACTIVE_RUN_STATUSES).order_by("-created_at").first()

    @property
    def last_run(self) -> Run | None:
        return self.runs.order_by("-created_at").first()


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
# The buckets of a run's sample latencies (see Run.count_latencies), from a fast local model to
# a slow one behind retries.
LATENCY_BOUNDS_MS = (100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000)
FINISHED_RUN_STATUSES = (RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED)
# A failed run has nothing to score, but the endpoint-down rules still judge it.
SCORABLE_RUN_STATUSES = (RunStatus.SUCCEEDED, RunStatus.PARTIAL)


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Run now"


class RunStage(models.TextChoices):
    """Where a run is in the pipeline: sample → score → evaluate the alert rules."""

    SAMPLING = "sampling", "Sampling"
    SAMPLED = "sampled", "Sampled: scoring next"
    SCORED = "scored", "Scored: alert rules next"
    WAITING_FOR_BASELINE = "waiting", "Waiting for the baseline"
    EVALUATED = "evaluated", "Evaluated"
    STOPPED = "stopped", "Stopped"


class RunQuerySet(models.QuerySet):
    def finished(self) -> RunQuerySet:
        return self.filter(status__in=FINISHED_RUN_STATUSES)

    def scored(self) -> RunQuerySet:
        return self.filter(scored_at__isnull=False)

    def good(self) -> RunQuerySet:
        """Fit to be a baseline: finished without failures and scored."""
        return self.filter(status=RunStatus.SUCCEEDED, scored_at__isnull=False)

    def comparable_to(self, run: Run) -> RunQuerySet:
        """Scored runs on the same prompts as ``run``, never ``run`` itself."""
        same_prompts = self.filter(prompt_set_version_id=run.prompt_set_version_id)
        return same_prompts.scored().exclude(pk=run.pk)

    def good_for(self, run: Run) -> RunQuerySet:
        """Good runs to compare ``run`` with: the same prompts, and never ``run`` itself."""
        return self.comparable_to(run).good()


class Run(models.Model):
    """One pass of an endpoint over a prompt-set version: every prompt, k samples each."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="runs")
    prompt_set_version = models.ForeignKey(
        PromptSetVersion, on_delete=models.PROTECT, related_name="runs"
    )
    trigger = models.CharField(max_length=10, choices=RunTrigger.choices)
    status = models.CharField(
        max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    request_params = models.JSONField(default=dict, help_text="Endpoint settings at run time.")
    samples_per_prompt = models.PositiveSmallIntegerField()
    samples_expected = models.PositiveIntegerField(default=0)
    samples_succeeded = models.PositiveIntegerField(default=0)
    samples_failed = models.PositiveIntegerField(default=0)
    error_summary = models.TextField(blank=True, help_text="Why samples or the run failed.")
    sampling_note = models.TextField(
        blank=True,
        help_text="How the samples were asked for when not as the endpoint is set, e.g. one "
        "request per sample because the server ignored n.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="How many times a worker took the run up (more than 1: resumed)."
    )
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The worker on it must renew by then."
    )
    scored_at = models.DateTimeField(null=True, blank=True)
    report = models.JSONField(
        null=True, blank=True, help_text="The evaluators' report: metrics, CIs, per-prompt."
    )
    score_error = models.TextField(blank=True, help_text="Why the run could not be scored.")
    awaits_baseline = models.BooleanField(
        default=False,
        help_text="Scored before its baseline endpoint had a scored run: no baseline-relative "
        "figure (blandness index, drop rules) yet; rescored when the baseline is.",
    )
    alerts_evaluated_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When every alert rule had been checked against the run.",
    )
    stage_queued_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When scoring or alert evaluation was last queued; a finished run whose stage "
        "has not moved for a grace period is queued again.",
    )
    stage_requeues = models.PositiveSmallIntegerField(
        default=0, editable=False, help_text="Times scoring or evaluation was queued again."
    )
    stage_error = models.TextField(
        blank=True, help_text="Why the pipeline gave up on this run after scoring or evaluation."
    )
    latency_histogram = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="Its samples' request times in cumulative buckets, counted when it finished: "
        "what /metrics adds up, so that a scrape reads runs, not samples.",
    )

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="run_endpoint_recent"),
            models.Index(fields=["status", "lease_expires_at"], name="run_status_lease"),
            # The dispatcher looks for finished runs not yet judged on every tick: few rows.
            models.Index(
                fields=["finished_at"],
                condition=Q(alerts_evaluated_at__isnull=True),
                name="run_not_yet_judged",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint.name} run {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("run-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES

    @property
    def samples_done(self) -> int:
        return self.samples_succeeded + self.samples_failed

    @property
    def progress_percent(self) -> int:
        if not self.samples_expected:
            return 100 if not self.is_active else 0
        return min(100, round(100 * self.samples_done / self.samples_expected))

    @property
    def is_good(self) -> bool:
        """Fit to be a baseline: finished without failures and scored."""
        return self.status == RunStatus.SUCCEEDED and self.scored_at is not None

    @property
    def is_scorable(self) -> bool:
        return self.status in SCORABLE_RUN_STATUSES

    @property
    def is_ready_for_rules(self) -> bool:
        """Finished and, if it has anything to score, scored: the alert rules can judge it."""
        if self.is_active or self.alerts_evaluated_at:
            return False
        return not self.is_scorable or self.scored_at is not None or bool(self.score_error)

    @property
    def stage(self) -> RunStage:
        if self.is_active:
            return RunStage.SAMPLING
        if self.alerts_evaluated_at:
            return RunStage.EVALUATED
        if self.stage_error:
            return RunStage.STOPPED
        if self.awaits_baseline:
            return RunStage.WAITING_FOR_BASELINE
        if self.is_scorable and self.scored_at is None and not self.score_error:
            return RunStage.SAMPLED
        return RunStage.SCORED

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def missing_slots(self) -> list[tuple[Prompt, int]]:
        """(prompt, sample index) pairs with no sample yet: the work left after a crash."""
        done = set(self.samples.values_list("prompt_id", "sample_index"))
        return [
            (prompt, index)
            for prompt in self.prompt_set_version.prompts.all()
            for index in range(self.samples_per_prompt)
            if (prompt.pk, index) not in done
        ]

    def count_samples(self) -> tuple[int, int]:
        """(succeeded, failed) as stored: the source of truth for the counters."""
        counts = self.samples.aggregate(failed=Count("pk", filter=~Q(error="")), total=Count("pk"))
        return counts["total"] - counts["failed"], counts["failed"]

    def count_latencies(self) -> dict:
        """Its samples' request times: how many took at most each of LATENCY_BOUNDS_MS, how
        many were timed in all, and their sum."""
        at_most = {
            f"le_{bound}": Count("pk", filter=Q(latency_ms__lte=bound))
            for bound in LATENCY_BOUNDS_MS
        }
        counts = self.samples.filter(latency_ms__isnull=False).aggregate(
            count=Count("pk"), sum_ms=Sum("latency_ms"), **at_most
        )
        return {
            "bounds_ms": list(LATENCY_BOUNDS_MS),
            "cumulative": [counts[key] for key in at_most],
            "count": counts["count"],
            "sum_ms": counts["sum_ms"] or 0,
        }

    def summarize_errors(self) -> str:
        """One line such as '3 of 40 samples failed: 2× HTTP 500, 1× timeout'."""
        kinds = Counter(self.samples.exclude(error="").values_list("error_kind", flat=True))
        if not kinds:
            return ""
        total = sum(kinds.values())
        parts = ", ".join(f"{n}× {kind}" for kind, n in kinds.most_common())
        return f"{total} of {self.samples_expected} samples failed: {parts}"


class Sample(models.Model):
    """One model output (or the error that stood in its place) for one prompt of one run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="samples")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="samples")
    sample_index = models.PositiveSmallIntegerField()
    text = models.TextField(blank=True, help_text="The model's output, untrusted.")
    finish_reason = models.CharField(max_length=50, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1, help_text="Requests made, retries too.")
    error_kind = models.CharField(max_length=50, blank=True, help_text="e.g. 'HTTP 500'.")
    error = models.TextField(blank=True, help_text="Empty when the sample succeeded.")
    embedding = models.BinaryField(
        null=True, blank=True, editable=False, help_text="float32 sentence embedding, if scored."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["prompt__position", "sample_index"]
        constraints = [
            # A retried or resumed task writes each slot at most once.
            models.UniqueConstraint(
                fields=["run", "prompt", "sample_index"], name="unique_sample_slot"
            )
        ]

    def __str__(self) -> str:
        return f"{self.run} · {self.prompt.key}#{self.sample_index}"

    @property
    def ok(self) -> bool:
        return not self.error


class MetricPoint(models.Model):
    """One metric of one scored run: a point of the endpoint's time series."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="points")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="points")
    metric = models.CharField(max_length=40, help_text="An evaluators metric key.")
    value = models.FloatField()
    ci_low = models.FloatField(null=True, blank=True, help_text="95% confidence interval.")
    ci_high = models.FloatField(null=True, blank=True)
    n = models.PositiveIntegerField(help_text="Prompts the value draws on.")
    time = models.DateTimeField(help_text="When the run finished.")

    class Meta:
        ordering = ["time"]
        indexes = [models.Index(fields=["endpoint", "metric", "time"], name="point_series")]
        constraints = [
            models.UniqueConstraint(fields=["run", "metric"], name="unique_point_per_run_metric")
        ]

    def __str__(self) -> str:
        return f"{self.metric}={self.value:.4g} ({self.run})"


class Granularity(models.TextChoices):
    """How long a roll-up's time bucket is; buckets start at whole hours and days in UTC."""

    HOUR = "hour", "Hour"
    DAY = "day", "Day"

    @property
    def seconds(self) -> int:
        return 3600 if self is Granularity.HOUR else 86400

    def start_of(self, moment: datetime) -> datetime:
        """The start of the hour or day ``moment`` lies in."""
        seconds = int(moment.timestamp())
        return datetime.fromtimestamp(seconds - seconds % self.seconds, UTC)


class MetricRollup(models.Model):
    """One metric's points of one endpoint in one hour or day (UTC), summed up: what a chart of
    a long range reads instead of the points. Derived from the points, and recomputed from them
    wherever points are written or deleted (``monitor.services.rollups``)."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="rollups")
    metric = models.CharField(max_length=40, help_text="An evaluators metric key.")
    granularity = models.CharField(max_length=4, choices=Granularity.choices)
    start = models.DateTimeField(help_text="The start of the hour or day, in UTC.")
    count = models.PositiveIntegerField(help_text="Points in the hour or day.")
    total = models.FloatField(help_text="The sum of their values.")
    low = models.FloatField(help_text="The lowest of their values.")
    high = models.FloatField(help_text="The highest of their values.")

    class Meta:
        constraints = [
            # Also the index a chart reads by: an endpoint's metrics at one granularity, by time.
            models.UniqueConstraint(
                fields=["endpoint", "granularity", "metric", "start"], name="unique_rollup"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.granularity} {self.start:%Y-%m-%d %H:%M}: {self.count}"


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook (JSON POST, Slack-compatible)"


class Channel(models.Model):
    """Where notifications go: an email list or a webhook URL."""

    name = models.CharField(max_length=100, unique=True, validators=[validate_one_line])
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    target = models.TextField(
        help_text="Email: addresses separated by commas. Webhook: the URL to POST to."
    )
    is_default = models.BooleanField(
        default=True, help_text="Used by every rule that names no channel of its own."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == ChannelKind.WEBHOOK:
            # A query may carry the hook's token (Google Chat's do): only credentials are refused.
            validate_credential_free_url(self.target)
        elif self.kind == ChannelKind.EMAIL:
            from django.core.validators import validate_email

            for address in self.email_addresses:
                validate_email(address)

    @property
    def email_addresses(self) -> list[str]:
        return [address.strip() for address in self.target.split(",") if address.strip()]


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", "Threshold: the value is past a fixed bound"
    DROP = "drop", "Drop from baseline: worse by X% and significant"
    CREEP = "creep", "Blandness creep: a sustained trend over the last runs"
    DOWN = "down", "Endpoint down: consecutive failed runs"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


def _default_rules() -> list[dict]:
    """The rules every new endpoint starts with (see README "Alerts"): endpoint down, a drop
    rule for each metric the alert policy watches, judged as the CLI gate judges them (one
    policy, :mod:`evaluators.policy`), and blandness creep."""
    policy = DEFAULT_POLICY
    drops = [
        {
            "kind": RuleKind.DROP,
            "metric": watch.metric,
            "severity": watch.severity,
            "change_percent": 0.0,
            "noise_floor": policy.noise_floor,
            "p_value": policy.alpha,
        }
        for watch in policy.watches
    ]
    return [
        {"kind": RuleKind.DOWN, "severity": Severity.CRITICAL, "window_runs": 3},
        *drops,
        {"kind": RuleKind.CREEP, "metric": "blandness_index", "severity": Severity.WARNING},
    ]


DEFAULT_RULES = _default_rules()


class AlertRule(models.Model):
    """When to raise an alert for an endpoint, a model family, or every endpoint."""

    name = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_one_line],
        help_text="Defaults to a description.",
    )
    endpoint = models.ForeignKey(
        Endpoint,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_rules",
        help_text="Only this endpoint. Empty: see model family.",
    )
    model_family = models.CharField(
        max_length=100, blank=True, help_text="Every endpoint of this family. Empty: all."
    )
    kind = models.CharField(max_length=10, choices=RuleKind.choices)
    metric = models.CharField(
        max_length=40, blank=True, help_text="An evaluators metric key; not for 'endpoint down'."
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    threshold = models.FloatField(
        null=True,
        blank=True,
        help_text="Threshold rules: breach when the value is on the worse side of this bound.",
    )
    change_percent = models.FloatField(
        default=10.0,
        validators=[MinValueValidator(0.0)],
        help_text="Drop: worse than the baseline by more than this many percent. Creep: total "
        "drift over the window larger than this.",
    )
    noise_floor = models.FloatField(
        default=2.0,
        validators=[MinValueValidator(0.0)],
        help_text="Drop: worse than the baseline by more than this many standard errors of the "
        "baseline's value (its spread over prompts), so each metric's own noise sets its bar.",
    )
    p_value = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Drop and creep: the significance level of the test.",
    )
    window_runs = models.PositiveSmallIntegerField(
        default=8,
        validators=[MinValueValidator(2), MaxValueValidator(500)],
        help_text="Creep: runs in the trend test. Down: failed runs in a row.",
    )
    consecutive_runs = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text="Breaching runs in a row before the alert fires (pending until then).",
    )
    reminder_hours = models.PositiveIntegerField(
        default=24, help_text="Remind while it keeps firing; 0: never."
    )
    channels = models.ManyToManyField(
        Channel, blank=True, help_text="Where to notify. Empty: every default channel."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "metric"]

    def __str__(self) -> str:
        return self.name or self.describe()

    def describe(self) -> str:
        if self.kind == RuleKind.DOWN:
            return f"{self.window_runs} failed runs in a row"
        if self.kind == RuleKind.THRESHOLD:
            side = ">" if METRICS[self.metric].higher_is_worse else "<"
            return f"{self.metric} {side} {self.threshold:g}"
        if self.kind == RuleKind.DROP:
            floors = [f">{self.noise_floor:g} standard errors"] if self.noise_floor else []
            floors += [f">{self.change_percent:g}%"] if self.change_percent else []
            return (
                f"{self.metric} worse than baseline by {' and '.join(floors) or 'any amount'} "
                f"(p<{self.p_value:g})"
            )
        return (
            f"{self.metric} trending worse over {self.window_runs} runs "
            f"(Mann–Kendall p<{self.p_value:g}, >{self.change_percent:g}%)"
        )

    def clean(self) -> None:
        if self.kind != RuleKind.DOWN and self.metric not in METRIC_KEYS:
            raise ValidationError({"metric": f"Choose one of: {', '.join(METRIC_KEYS)}."})
        if self.kind == RuleKind.THRESHOLD and self.threshold is None:
            raise ValidationError({"threshold": "A threshold rule needs a threshold."})

    def applies_to(self, endpoint: Endpoint) -> bool:
        if self.endpoint_id:
            return self.endpoint_id == endpoint.pk
        return not self.model_family or self.model_family == endpoint.model_family

    @staticmethod
    def applying_to(endpoint: Endpoint) -> Q:
        """Rules of the endpoint, of its family, and of every endpoint."""
        return Q(endpoint=endpoint) | Q(
            endpoint__isnull=True, model_family__in=["", endpoint.model_family]
        )

    @classmethod
    def for_endpoint(cls, endpoint: Endpoint) -> list[AlertRule]:
        rules = cls.objects.filter(cls.applying_to(endpoint), enabled=True)
        return list(rules.prefetch_related("channels"))

    @classmethod
    def create_defaults(cls, endpoint: Endpoint) -> None:
        cls.objects.bulk_create(cls(endpoint=endpoint, **fields) for fields in DEFAULT_RULES)

    def notification_channels(self) -> list[Channel]:
        chosen = [channel for channel in self.channels.all() if channel.enabled]
        return chosen or list(Channel.objects.filter(is_default=True, enabled=True))


class AlertState(models.TextChoices):
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


OPEN_ALERT_STATES = (AlertState.PENDING, AlertState.FIRING)


class Alert(models.Model):
    """One episode of a rule breached by an endpoint, from first breach to recovery."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="alerts")
    state = models.CharField(max_length=10, choices=AlertState.choices, db_index=True)
    breaching_runs = models.PositiveIntegerField(default=1)
    summary = models.TextField(help_text="Why, in words: the latest evaluation.")
    value = models.FloatField(null=True, blank=True)
    baseline_value = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    silenced_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # Deduplication: at most one open alert per rule and endpoint.
            models.UniqueConstraint(
                fields=["rule", "endpoint"],
                condition=Q(state__in=["pending", "firing"]),
                name="one_open_alert_per_rule_endpoint",
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.rule}"

    def get_absolute_url(self) -> str:
        return reverse("alert-list") + f"#alert-{self.pk}"

    def is_silenced(self, now=None) -> bool:
        return bool(self.silenced_until and self.silenced_until > (now or timezone.now()))


class EventKind(models.TextChoices):
    PENDING = "pending", "Breached, pending"
    FIRED = "fired", "Fired"
    REMINDER = "reminder", "Still firing"
    RESOLVED = "resolved", "Resolved"
    CLEARED = "cleared", "Cleared before firing"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SILENCED = "silenced", "Silenced"


NOTIFYING_EVENTS = (EventKind.FIRED, EventKind.REMINDER, EventKind.RESOLVED)


class AlertEvent(models.Model):
    """A state change of an alert, with the run that caused it: what the chart draws."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    run = models.ForeignKey(
        Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="alert_events"
    )
    value = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.alert} {self.kind}"


class Outcome(models.TextChoices):
    BREACHED = "breached", "Breached"
    CLEAR = "clear", "Clear"
    UNKNOWN = "unknown", "Cannot tell"
    SUPERSEDED = "superseded", "Superseded by a later run"


class RuleEvaluation(models.Model):
    """One alert rule checked against one run. Written in the same transaction as the alert
    changes it caused, so each rule judges each run exactly once, however often the evaluation
    is retried or a worker dies halfway."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="rule_evaluations")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="evaluations")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    summary = models.TextField(help_text="What the rule saw, in words.")
    value = models.FloatField(null=True, blank=True)
    baseline_value = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rule__kind", "rule__metric"]
        constraints = [
            models.UniqueConstraint(fields=["run", "rule"], name="one_evaluation_per_run_rule")
        ]

    def __str__(self) -> str:
        return f"{self.rule} on {self.run}: {self.outcome}"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """One event sent to one channel: written before sending, claimed once, result stored."""

    event = models.ForeignKey(
        AlertEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    is_test = models.BooleanField(default=False, help_text="From 'send test notification'.")
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel"],
                condition=Q(event__isnull=False),
                name="one_notification_per_event_channel",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} · {self.event or 'test'} · {self.status}"


class DispatcherTick(models.Model):
    """When the dispatcher last finished a tick (one row): /healthz says not ok once it is old."""

    SINGLETON_PK = 1

    finished_at = models.DateTimeField(
        help_text="When the last tick had started the due runs and recovered the lost ones."
    )

    def __str__(self) -> str:
        return f"dispatcher tick at {self.finished_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def record(cls, now: datetime | None = None) -> None:
        cls.objects.update_or_create(
            pk=cls.SINGLETON_PK, defaults={"finished_at": now or timezone.now()}
        )

    @classmethod
    def last(cls) -> datetime | None:
        return cls.objects.filter(pk=cls.SINGLETON_PK).values_list("finished_at", flat=True).first()


class ApiToken(models.Model):
    """A user's key to the REST API. Only its SHA-256 is stored: the key is shown once, when
    made, and a leaked database holds nothing that authenticates."""

    PREFIX = "tw_"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token"
    )
    key_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key, hex.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"API token of {self.user}"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()

    @classmethod
    def issue(cls, user) -> str:
        """A new key for ``user``, replacing any earlier one; returns the key itself."""
        key = cls.PREFIX + secrets.token_urlsafe(32)
        cls.objects.update_or_create(
            user=user,
            defaults={"key_hash": cls.hash_key(key), "created_at": timezone.now()},
        )
        return key


class OutputSignature(models.Model):
    """The MinHash signature of one stored model output: the index that corpus scans search.

    Written once per sample when its run finishes (``services/provenance_index.py``), so a
    scan reads signatures and never hashes stored outputs again."""

    sample = models.OneToOneField(
        Sample, on_delete=models.CASCADE, primary_key=True, related_name="signature"
    )
    endpoint = models.ForeignKey(
        Endpoint,
        on_delete=models.CASCADE,
        related_name="signatures",
        help_text="The endpoint that produced the output (its model version at the time).",
    )
    hashvalues = models.BinaryField(help_text="uint32 MinHash values over word shingles.")

    def __str__(self) -> str:
        return f"signature of sample {self.sample_id}"


class OutputIndexStats(models.Model):
    """How large the index of stored outputs is and how long building it took (one row)."""

    SINGLETON_PK = 1

    outputs = models.PositiveIntegerField(default=0, help_text="Outputs with a signature.")
    build_seconds = models.FloatField(
        default=0.0, help_text="Time spent hashing outputs into the index, all runs together."
    )
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"output index: {self.outputs} outputs"

    @classmethod
    def current(cls) -> OutputIndexStats:
        return cls.objects.filter(pk=cls.SINGLETON_PK).first() or cls(pk=cls.SINGLETON_PK)


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class LeasedJob(models.Model):
    """A background job that one worker at a time holds through a lease, as a run's sampler
    does (``services/sampling.py``), without a run's stages: claimed while queued or while its
    holder's lease has lapsed, finished by its holder, queued again by the dispatcher when its
    worker died or its message was lost, given up after ``MAX_ATTEMPTS`` takes
    (``services/jobs.py``)."""

    MAX_ATTEMPTS = 3

    status = models.CharField(
        max_length=10,
        choices=JobStatus.choices,
        default=JobStatus.QUEUED,
        db_index=True,
        help_text="Queued for a worker, running on one, succeeded, or failed.",
    )
    error = models.TextField(blank=True, help_text="Why the job failed.")
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="How many times a worker took the job up."
    )
    lease_token = models.CharField(
        max_length=32, blank=True, editable=False, help_text="The worker that holds the job."
    )
    lease_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The worker on it must renew the lease or finish by then.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the job was last queued for a worker."
    )
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker last took it up."
    )
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="When the job succeeded, or failed."
    )

    class Meta:
        abstract = True

    @classmethod
    def lease_length(cls) -> timedelta:
        """How long a worker holds the job without renewing: by default one stage's grace, for
        a job that is one call with no point at which to renew."""
        return timedelta(seconds=settings.TAILWATCH_STAGE_GRACE_SECONDS)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES


class Scan(LeasedJob):
    """A provenance scan of an uploaded corpus against the stored model outputs.

    A worker owns it through a lease, as a run's worker does, and publishes its progress."""

    corpus_name = models.CharField(max_length=255, help_text="The uploaded file's name.")
    corpus_path = models.CharField(max_length=500, editable=False)
    reference_name = models.CharField(max_length=255, blank=True)
    reference_path = models.CharField(max_length=500, blank=True, editable=False)
    threshold = models.FloatField(
        default=0.8,
        validators=[MinValueValidator(0.05), MaxValueValidator(1.0)],
        help_text="Jaccard similarity of word shingles from which a document is a near-copy.",
    )
    progress = models.FloatField(default=0.0, help_text="Share of the corpus read, 0 to 1.")
    documents = models.PositiveIntegerField(default=0, help_text="Documents read so far.")
    matched = models.PositiveIntegerField(default=0, help_text="Near-copies of model outputs.")
    duplicates = models.PositiveIntegerField(default=0, help_text="Exact and near duplicates.")
    malformed = models.PositiveIntegerField(default=0, help_text="Lines that were not documents.")
    result = models.JSONField(null=True, blank=True, help_text="The report, once finished.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"scan {self.pk} of {self.corpus_name}"

    def get_absolute_url(self) -> str:
        return reverse("scan-detail", args=[self.pk])

    @classmethod
    def lease_length(cls) -> timedelta:
        # The scan's worker renews its lease as it publishes progress: a short lease finds a
        # dead worker as soon as a run's lease does.
        return timedelta(seconds=settings.TAILWATCH_RUN_LEASE_SECONDS)

    @property
    def directory(self) -> str:
        """Where the scan's files live: the uploads, the filtered corpus, the manifest."""
        return os.path.dirname(self.corpus_path)

    @property
    def filtered_path(self) -> str:
        return os.path.join(self.directory, "filtered.txt")

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.directory, "manifest.jsonl")


class Comparison(LeasedJob):
    """The compare page's significance test of run B against run A, computed once by a scoring
    worker (it takes what scoring both runs does) and kept: a scored run's samples never
    change, so neither does the test. A worker holds it through a lease, as a run's sampler
    does; the dispatcher queues it again when the lease lapses or the message was lost."""

    run_a = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="+", help_text="The reference run."
    )
    run_b = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="+", help_text="The candidate run."
    )
    permutations = models.PositiveIntegerField(
        help_text="Permutations of the prompt-level test at most (it may stop sooner)."
    )
    result = models.JSONField(
        null=True, blank=True, help_text="Per metric: the Holm-adjusted p-value and verdict."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run_a", "run_b", "permutations"], name="one_comparison_per_pair"
            )
        ]

    def __str__(self) -> str:
        return f"run {self.run_a_id} vs run {self.run_b_id}: {self.status}"

    @property
    def progress(self) -> str:
        """Where the test is, in words for the page."""
        if self.status == JobStatus.RUNNING and self.started_at is not None:
            seconds = int((timezone.now() - self.started_at).total_seconds())
            return f"Testing: a worker has been on it for {seconds} s."
        if self.status == JobStatus.QUEUED:
            return "Testing: waiting for a scoring worker."
        if self.status == JobStatus.FAILED:
            return f"The significance test failed: {self.error}"
        return ""
