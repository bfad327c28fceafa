"""Settings at startup: files under var/ private from their creation, and no production start
with a weak SECRET_KEY. Each case imports the settings in a fresh process, as a start does."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

CONFIGURED = {"SECRET_KEY", "DATABASE_URL", "TAILWATCH_PRODUCTION", "DJANGO_SETTINGS_MODULE"}
STRONG_KEY = "k8#Qz!v2Lp@9wXr$4Tn&7Yb*1Md^6Fh(3Js)5Gc_0Ae+Uo=Ki-Wy~Ns"

# A file made private only after its creation (chmod) would be readable by others in between:
# with chmod disabled and no umask to help, only a file created private ends up private.
NO_CHMOD = (
    "import os, pathlib; os.umask(0); "
    "os.chmod = pathlib.Path.chmod = lambda *args, **kwargs: None; "
    "import monitor.settings"
)


def start(var_dir: Path, code: str = "import monitor.settings", **env: str):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"SECRET_KEY", "DATABASE_URL", "TAILWATCH_PRODUCTION", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(TAILWATCH_VAR_DIR=str(var_dir), **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=environment, capture_output=True, text=True
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_var_the_secret_key_and_the_database_are_created_private(tmp_path):
    var = tmp_path / "var"
    started = start(var, NO_CHMOD)
    assert started.returncode == 0, started.stderr
    assert mode(var) == 0o700
    assert mode(var / "secret_key") == 0o600 and len((var / "secret_key").read_text()) >= 50
    assert mode(var / "tailwatch.sqlite3") == 0o600
    assert [path.name for path in var.iterdir() if path.name.startswith(".")] == []


def test_the_generated_secret_key_is_kept_across_starts(tmp_path):
    var = tmp_path / "var"
    code = "import monitor.settings as s; print(s.SECRET_KEY)"
    assert start(var, code).stdout == start(var, code).stdout != ""


def test_a_database_file_others_could_read_is_made_private(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    for name in ("tailwatch.sqlite3", "tailwatch.sqlite3-wal"):
        (var / name).write_bytes(b"")
        (var / name).chmod(0o644)
    assert start(var).returncode == 0
    assert mode(var / "tailwatch.sqlite3") == mode(var / "tailwatch.sqlite3-wal") == 0o600


@pytest.mark.parametrize(
    "key, reason",
    [
        ("", "SECRET_KEY must be set"),
        ("short-but-set", "shorter than 50 characters"),
        ("ab" * 40, "fewer than 5 different characters"),
        ("django-insecure-" + STRONG_KEY, "a published example"),
    ],
)
def test_production_refuses_to_start_with_a_weak_secret_key(tmp_path, key, reason):
    started = start(tmp_path / "var", SECRET_KEY=key, TAILWATCH_PRODUCTION="1")
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr and reason in started.stderr


def test_production_starts_with_a_strong_secret_key(tmp_path):
    started = start(tmp_path / "var", SECRET_KEY=STRONG_KEY, TAILWATCH_PRODUCTION="1")
    assert started.returncode == 0, started.stderr


@pytest.mark.parametrize("device", ["gpu", "cuda:", "CUDA", "cuda:first"])
def test_an_unknown_embedding_device_stops_the_start_with_the_accepted_values(tmp_path, device):
    started = start(tmp_path / "var", TAILWATCH_EMBEDDING_DEVICE=device)
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    assert "must be auto, cpu, cuda or cuda:N" in started.stderr and repr(device) in started.stderr


@pytest.mark.parametrize(
    ("value", "device"), [("", "auto"), ("cpu", "cpu"), ("cuda", "cuda"), ("cuda:1", "cuda:1")]
)
def test_the_embedding_device_is_auto_unless_set(tmp_path, value, device):
    code = "import monitor.settings as s; print(s.TAILWATCH_EMBEDDING_DEVICE)"
    started = start(tmp_path / "var", code, TAILWATCH_EMBEDDING_DEVICE=value)
    assert started.stdout.strip() == device, started.stderr


@pytest.mark.parametrize(
    ("debug", "storage"),
    [
        ("0", "whitenoise.storage.CompressedManifestStaticFilesStorage"),
        ("1", "django.contrib.staticfiles.storage.StaticFilesStorage"),
    ],
)
def test_static_files_are_hashed_and_compressed_unless_debugging(tmp_path, debug, storage):
    code = "import monitor.settings as s; print(s.STORAGES['staticfiles']['BACKEND'])"
    started = start(tmp_path / "var", code, DEBUG=debug)
    assert started.stdout.strip() == storage, started.stderr
