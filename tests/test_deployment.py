"""The shipped deployment files (deploy/systemd/, deploy/tailwatch.env.example,
Procfile.production) agree with the code: each command's program is installed and its module
exists, the workers consume exactly the queues the tasks are routed to, beat runs once, and the
environment example lists every setting with its true default."""

from __future__ import annotations

import configparser
import importlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from celery.app.utils import find_app
from django.core.management import get_commands

from monitor.celery import app as celery_app
from tests.conftest import REPO

UNIT_DIR = REPO / "deploy" / "systemd"
ENV_EXAMPLE = REPO / "deploy" / "tailwatch.env.example"
INSTALL_DIR = "/opt/tailwatch"
ENV_FILE = "/etc/tailwatch/tailwatch.env"
PROCESSES = ("web", "worker-sampling", "worker-scoring", "worker-default", "beat")
# The variables settings.py reads: os.environ.get("NAME", …), env_int("NAME", …), …
SETTING_READ = re.compile(r"""(?:os\.environ\.get|env_bool|env_int|env_list)\(\s*["']([A-Z_]+)""")


def unit_service(process: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    with (UNIT_DIR / f"tailwatch-{process}.service").open() as file:
        parser.read_file(file)
    return parser["Service"]


def unit_steps(process: str) -> list[list[str]]:
    """The unit's commands in order (ExecStartPre, ExecStart), as systemd unescapes them."""
    service = unit_service(process)
    lines = [service[key] for key in ("ExecStartPre", "ExecStart") if key in service]
    return [shlex.split(line.replace("%%", "%")) for line in lines]


def procfile_steps() -> dict[str, list[list[str]]]:
    """Each Procfile.production process's commands (``a && exec b``: [a, b])."""
    steps = {}
    for line in (REPO / "Procfile.production").read_text().splitlines():
        name, _, command = line.partition(":")
        steps[name.strip()] = [
            [word for word in shlex.split(step) if word != "exec"] for step in command.split("&&")
        ]
    return steps


def program_and_arguments(step: list[str]) -> tuple[str, list[str]]:
    """A command's program name and its arguments, less the address gunicorn listens on (each
    file binds its own: a proxy on the unit's host, the platform's $PORT for the Procfile)."""
    arguments = list(step[1:])
    if "--bind" in arguments:
        index = arguments.index("--bind")
        del arguments[index : index + 2]
    return Path(step[0]).name, arguments


def option(step: list[str], name: str) -> str | None:
    return step[step.index(name) + 1] if name in step else None


def worker_queues(step: list[str]) -> set[str]:
    return set(option(step, "--queues").split(",")) if "worker" in step else set()


def routed_queues() -> dict[str, str]:
    """Every task of the project and the queue it is routed to, by its name."""
    celery_app.loader.import_default_modules()
    return {
        name: celery_app.amqp.router.route({}, name)["queue"].name
        for name in celery_app.tasks
        if name.startswith("monitor.")
    }


def all_commands() -> list[list[str]]:
    from_units = [step for process in PROCESSES for step in unit_steps(process)]
    return from_units + [step for steps in procfile_steps().values() for step in steps]


def test_the_procfile_runs_the_same_processes_as_the_units():
    procfile = procfile_steps()
    assert sorted(procfile) == sorted(PROCESSES)
    assert sorted(path.name for path in UNIT_DIR.glob("*.service")) == sorted(
        f"tailwatch-{process}.service" for process in PROCESSES
    )
    for process in PROCESSES:
        assert [program_and_arguments(step) for step in procfile[process]] == [
            program_and_arguments(step) for step in unit_steps(process)
        ], process


@pytest.mark.parametrize("process", PROCESSES)
def test_each_unit_runs_from_the_install_with_the_shared_environment(process):
    service = unit_service(process)
    assert service["WorkingDirectory"] == INSTALL_DIR
    assert service["EnvironmentFile"] == ENV_FILE
    assert (service["User"], service["StateDirectory"]) == ("tailwatch", "tailwatch")
    for step in unit_steps(process):
        assert step[0].startswith(f"{INSTALL_DIR}/.venv/bin/"), step


def test_every_program_the_files_run_is_installed_with_the_project():
    venv_bin = Path(sys.executable).parent
    for step in all_commands():
        assert (venv_bin / Path(step[0]).name).exists(), step[0]


def test_the_modules_and_commands_the_files_name_exist():
    for step in all_commands():
        program, arguments = program_and_arguments(step)
        if program == "celery":
            assert find_app(option(step, "-A")) is celery_app
        elif program == "gunicorn":
            assert callable(importlib.import_module(arguments[0]).application)
        else:
            assert (program, arguments[0]) == ("python", "manage.py")
            assert arguments[1] in get_commands()


def test_the_workers_consume_exactly_the_queues_tasks_are_routed_to():
    routes = routed_queues()
    declared = {queue.name for queue in celery_app.conf.task_queues}
    assert set(routes.values()) == declared == {"default", "sampling", "scoring"}
    assert routes["monitor.tasks.sample_run"] == "sampling"
    assert routes["monitor.tasks.score_run"] == "scoring"
    procfile = procfile_steps()
    for name, steps in [*((p, unit_steps(p)) for p in PROCESSES), *procfile.items()]:
        queues = set().union(*(worker_queues(step) for step in steps))
        expected = {name.removeprefix("worker-")} if name.startswith("worker-") else set()
        assert queues == expected, name


def test_the_sampling_workers_use_threads_and_the_scoring_workers_one_process_per_core():
    for steps in (unit_steps("worker-sampling"), procfile_steps()["worker-sampling"]):
        assert option(steps[-1], "--pool") == "threads"
        assert int(option(steps[-1], "--concurrency")) >= 16
    for steps in (unit_steps("worker-scoring"), procfile_steps()["worker-scoring"]):
        # prefork without --concurrency: one process per core, torch threads split among them.
        assert option(steps[-1], "--pool") == "prefork" and "--concurrency" not in steps[-1]


def is_beat(step: list[str]) -> bool:
    return Path(step[0]).name == "celery" and "beat" in step


def test_beat_is_started_by_exactly_one_process():
    from_units = [process for process in PROCESSES if any(map(is_beat, unit_steps(process)))]
    from_procfile = [name for name, steps in procfile_steps().items() if any(map(is_beat, steps))]
    assert from_units == from_procfile == ["beat"]


def test_the_web_collects_the_static_files_before_gunicorn_starts():
    for steps in (unit_steps("web"), procfile_steps()["web"]):
        assert [program_and_arguments(step)[1][:2] for step in steps[:1]] == [
            ["manage.py", "collectstatic"]
        ]
        assert Path(steps[-1][0]).name == "gunicorn"


def env_example(include_commented: bool) -> dict[str, str]:
    """The example's variables as systemd reads them (quotes removed), commented defaults too
    if asked."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if include_commented and re.match(r"#[A-Z_]+=", line):
            line = line[1:]
        name, equals, value = line.partition("=")
        if equals and re.fullmatch(r"[A-Z_]+", name):
            values[name] = value[1:-1] if value[:1] == value[-1:] == '"' else value
    return values


def test_the_environment_example_lists_every_setting():
    read = set(SETTING_READ.findall((REPO / "monitor" / "settings.py").read_text()))
    missing = read - set(env_example(include_commented=True))
    assert not missing, f"add these to {ENV_EXAMPLE.relative_to(REPO)}: {sorted(missing)}"
    assert (
        env_example(False)["TAILWATCH_VAR_DIR"]
        == "/var/lib/" + unit_service("beat")["StateDirectory"]
    )


def loaded_settings(environment: dict[str, str], var_dir: Path) -> dict[str, str]:
    code = (
        "import json, monitor.settings as s; "
        "print(json.dumps({k: repr(getattr(s, k)) for k in dir(s) if k.isupper()}))"
    )
    names = set(env_example(include_commented=True)) | {"DJANGO_SETTINGS_MODULE"}
    clean = {key: value for key, value in os.environ.items() if key not in names}
    started = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**clean, **environment, "TAILWATCH_VAR_DIR": str(var_dir)},
        capture_output=True,
        text=True,
    )
    assert started.returncode == 0, started.stderr
    return json.loads(started.stdout)


def test_the_commented_defaults_of_the_environment_example_are_the_true_defaults(tmp_path):
    strong_key = {"SECRET_KEY": "k8#Qz!v2Lp@9wXr$4Tn&7Yb*1Md^6Fh(3Js)5Gc_0Ae+Uo=Ki-Wy~Ns"}
    needed = {**env_example(include_commented=False), **strong_key}
    every = {**env_example(include_commented=True), **strong_key}
    assert loaded_settings(every, tmp_path) == loaded_settings(needed, tmp_path)
