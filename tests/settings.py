"""Settings for the test suite: monitor.settings on a test database and broker.

TEST_DATABASE_URL (CI: PostgreSQL) and REDIS_URL (CI: Redis) pick real servers; without them the
suite runs on SQLite and the filesystem broker under var/test/.
"""

import os
from pathlib import Path

_test_var = Path(__file__).resolve().parent.parent / "var" / "test"
os.environ["TAILWATCH_VAR_DIR"] = str(_test_var)
os.environ["DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL") or (
    f"sqlite:///{_test_var / 'tailwatch.sqlite3'}"
)
os.environ["CELERY_BROKER_URL"] = os.environ.get("REDIS_URL") or "filesystem://localhost//"
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)

from monitor.settings import *  # noqa: E402,F403
from monitor.settings import DATABASES, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: worker processes started by the integration tests must see it too.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Per process and emptied before each test (tests/conftest.py): no result cached by one test can
# answer another.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests render pages without running collectstatic first: files are named and served as found.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
