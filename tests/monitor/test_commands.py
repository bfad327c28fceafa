"""Management commands: first-start bootstrap, users and their roles, registering an endpoint, and
settings checks."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from monitor.models import Endpoint, MetricPoint, PromptKind, Run, Sample
from monitor.services import seeding
from monitor.services.seeding import (
    DEFAULT_PROMPT_SET_NAME,
    DRIFTING_PROMPT_SET_NAME,
    LAB_PROMPT_SET_NAME,
)
from monitor.settings import email_settings_from_url
from tests.conftest import REPO
from tests.factories import english_texts, make_endpoint, make_finished_run

pytestmark = pytest.mark.django_db


def test_bootstrap_creates_a_login_and_the_lab_endpoints_once(
    capsys, settings, tmp_path, small_lab, monkeypatch, enqueued
):
    settings.VAR_DIR = tmp_path
    settings.TAILWATCH_EMBEDDINGS = False
    settings.TAILWATCH_LAB_ENABLED = True
    monkeypatch.setattr(seeding, "served_lab", lambda: small_lab)
    monkeypatch.setattr(seeding, "DRIFTING_BACKFILLED_RUNS", 2)
    backfill = seeding.seed_drifting_endpoint
    ended = []

    def slow_backfill(*args):
        endpoint = backfill(*args)
        ended.append(timezone.now())
        return endpoint

    monkeypatch.setattr(seeding, "seed_drifting_endpoint", slow_backfill)
    call_command("bootstrap")
    out = capsys.readouterr().out
    password = (tmp_path / "admin-password").read_text().strip()
    assert f"Log in as 'admin' with password {password}" in out
    assert User.objects.get(username="admin").check_password(password)
    lab = Endpoint.objects.order_by("model_family", "version_label")
    assert [(e.model_family, e.version_label, e.model) for e in lab[:2]] == [
        ("lab-anchored", "g0", "lab-anchored-g0"),
        ("lab-anchored", "g2", "lab-anchored-g2"),
    ]
    assert lab.count() == 11
    assert {e.model_family for e in lab} == {"lab-anchored", "lab-pure", "lab-truncated"}
    assert all(e.base_url.endswith("/lab/v1") for e in lab)
    assert {e.get_api_key() for e in lab} == {settings.TAILWATCH_LAB_TOKEN}
    # The worker trains what the endpoints will ask for; the drifting arm to its last generation.
    assert enqueued == [
        ("monitor.tasks.train_lab_generation", ["pure", 8]),
        ("monitor.tasks.train_lab_generation", ["anchored", 8]),
        ("monitor.tasks.train_lab_generation", ["truncated", 20]),
    ]
    # Generation 0 of each arm runs first and is the baseline of the later generations.
    first, later = lab[0], lab[1]
    assert first.next_run_at is None and first.baseline_endpoint is None
    assert later.baseline_endpoint == first
    # Their first runs wait from the end of seeding (the backfill takes minutes), not its start.
    assert later.next_run_at >= ended[0] + seeding.LATER_GENERATIONS_DELAY
    assert {e.prompt_set.name for e in lab} == {LAB_PROMPT_SET_NAME, DRIFTING_PROMPT_SET_NAME}
    assert "Seeded the collapse lab: 11 endpoints" in out
    drifting = Endpoint.objects.get(model="lab-truncated-drift")
    assert drifting.prompt_set.name == DRIFTING_PROMPT_SET_NAME
    history = drifting.runs.order_by("created_at")
    assert [run.status for run in history] == ["succeeded"] * 2
    assert all(run.alerts_evaluated_at for run in history)
    assert drifting.baseline_run == history[0] and drifting.next_run_at > history[1].finished_at
    default = first.prompt_set.__class__.objects.get(name=DEFAULT_PROMPT_SET_NAME)
    kinds = default.latest_version.kind_counts()
    assert kinds[PromptKind.PROBE] >= 500 and kinds[PromptKind.OPEN] >= 100
    assert (
        0 < first.prompt_set.latest_version.prompts.count() < default.latest_version.prompts.count()
    )

    call_command("bootstrap")
    assert User.objects.count() == 1 and Endpoint.objects.count() == 11
    assert password in capsys.readouterr().out


def test_bootstrap_seeds_no_lab_endpoints_with_the_lab_off(capsys, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TAILWATCH_LAB_ENABLED = False
    call_command("bootstrap")
    assert User.objects.filter(username="admin").exists()
    assert not Endpoint.objects.exists()
    assert "The collapse lab is off" in capsys.readouterr().out


def test_bootstrap_gives_lab_endpoints_seeded_without_the_token_the_token(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TAILWATCH_LAB_ENABLED = True
    settings.TAILWATCH_LAB_TOKEN = "the-lab-token"
    older = make_endpoint(f"{settings.SITE_URL}/lab/v1", model="lab-pure-g2")
    other = make_endpoint("http://vllm:8000/v1", name="bot", model="bot")
    call_command("bootstrap")
    older.refresh_from_db()
    other.refresh_from_db()
    assert older.get_api_key() == "the-lab-token" and other.get_api_key() == ""


def test_add_user_creates_a_user_with_a_role_and_changes_the_role_later(capsys):
    call_command("add_user", "ann", "--role", "editor")
    password = capsys.readouterr().out.split("with password ")[1].split()[0]
    ann = User.objects.get(username="ann")
    assert ann.check_password(password) and ann.is_staff
    assert ann.has_perm("monitor.add_endpoint") and not ann.has_perm("monitor.change_channel")
    call_command("add_user", "ann", "--role", "viewer")
    assert "ann's role is now viewer" in capsys.readouterr().out
    ann = User.objects.get(username="ann")
    assert ann.check_password(password)
    assert ann.has_perm("monitor.view_endpoint") and not ann.has_perm("monitor.add_endpoint")


def test_add_endpoint_registers_with_the_default_prompt_set(capsys):
    call_command(
        "add_endpoint",
        "ollama-llama",
        "--base-url=http://ollama:11434/v1",
        "--model=llama3",
        "--family=llama",
        "--api-key-env=TAILWATCH_KEY_OLLAMA",
        "--samples=3",
    )
    endpoint = Endpoint.objects.get(name="ollama-llama")
    assert (endpoint.model_family, endpoint.samples_per_prompt) == ("llama", 3)
    assert endpoint.prompt_set.name == DEFAULT_PROMPT_SET_NAME
    assert endpoint.api_key_source == "from $TAILWATCH_KEY_OLLAMA"
    assert "Registered ollama-llama" in capsys.readouterr().out


def test_add_endpoint_names_the_version_it_is_judged_against():
    common = ["--base-url=http://vllm:8000/v1", "--model=bot", "--family=bot"]
    call_command("add_endpoint", "bot-v1", *common)
    call_command("add_endpoint", "bot-v2", *common, "--baseline-endpoint=bot-v1")
    assert Endpoint.objects.get(name="bot-v2").baseline_endpoint.name == "bot-v1"
    with pytest.raises(CommandError, match="no endpoint named 'bot-v0'"):
        call_command("add_endpoint", "bot-v3", *common, "--baseline-endpoint=bot-v0")


def test_add_endpoint_explains_what_is_wrong():
    with pytest.raises(CommandError, match="base_url: Enter an http"):
        call_command("add_endpoint", "x", "--base-url=ftp://x", "--model=m", "--family=f")


def test_add_endpoint_refuses_a_variable_that_may_not_hold_a_key():
    common = ["--base-url=http://vllm:8000/v1", "--model=m", "--family=f"]
    with pytest.raises(CommandError, match="api_key_env: Only variables whose names start with"):
        call_command("add_endpoint", "x", *common, "--api-key-env=DATABASE_URL")


def test_email_url_becomes_smtp_settings():
    assert email_settings_from_url("smtps://me%40x.org:p%3Ass@mail.x.org") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.x.org",
        "EMAIL_PORT": 465,
        "EMAIL_HOST_USER": "me@x.org",
        "EMAIL_HOST_PASSWORD": "p:ss",
        "EMAIL_USE_SSL": True,
        "EMAIL_USE_TLS": False,
    }
    with pytest.raises(Exception, match="scheme"):
        email_settings_from_url("http://nope")


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "monitor.settings",
        "TAILWATCH_PRODUCTION": "1",
        "SECRET_KEY": "k" * 20 + "-production-secret-0123456789-abcdefghijklmnop",
        "ALLOWED_HOSTS": "tailwatch.example.org",
        "TAILWATCH_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**os.environ, "TAILWATCH_PRODUCTION": "1", "TAILWATCH_VAR_DIR": str(tmp_path)}
    env.pop("SECRET_KEY", None)
    env["DJANGO_SETTINGS_MODULE"] = "monitor.settings"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_rescore_replaces_points_of_runs_since_a_date(settings, capsys):
    settings.TAILWATCH_EMBEDDINGS = False
    endpoint = make_endpoint("http://127.0.0.1:9/v1", samples_per_prompt=2)
    old = make_finished_run(endpoint, english_texts(1, 1000, 3, 2))
    Run.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    new = make_finished_run(endpoint, english_texts(2, 1000, 3, 2))

    call_command("rescore", "--since", (timezone.now() - timedelta(days=1)).date().isoformat())

    assert not MetricPoint.objects.filter(run=old).exists()
    assert MetricPoint.objects.filter(run=new, metric="distinct_2").exists()
    assert "Re-scored 1 of 1 runs." in capsys.readouterr().out
    with pytest.raises(CommandError, match="--since: Give an ISO 8601 date"):
        call_command("rescore", "--since", "last tuesday")


def test_prune_deletes_old_samples_but_keeps_a_pinned_baseline(settings):
    endpoint = make_endpoint("http://127.0.0.1:9/v1", samples_per_prompt=2)
    pinned = make_finished_run(endpoint, english_texts(1, 1000, 3, 2))
    old = make_finished_run(endpoint, english_texts(2, 1000, 3, 2))
    endpoint.baseline_run = pinned
    endpoint.save()
    Sample.objects.update(created_at=timezone.now() - timedelta(days=100))

    call_command("prune", "--sample-days", "90")

    assert Sample.objects.filter(run=pinned).count() == 6
    assert not Sample.objects.filter(run=old).exists()
    assert Run.objects.filter(pk=old.pk).exists()
