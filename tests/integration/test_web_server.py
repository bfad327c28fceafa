"""The web process as Procfile.production starts it: collectstatic, then gunicorn, with
whitenoise serving each static file under its content hash, compressed and cached for good."""

import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, database_url, wait_for

pytestmark = [pytest.mark.integration]


def procfile_web_command() -> str:
    """The Procfile's web line, its .venv/bin/ read as this interpreter's."""
    for line in (REPO / "Procfile.production").read_text().splitlines():
        name, _, command = line.partition(":")
        if name == "web":
            return command.strip().replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    raise AssertionError("Procfile.production has no web process")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def web_server(transactional_db, settings, tmp_path):
    """gunicorn on a free port, off DEBUG, with a var dir of its own (no static files yet)."""
    port = free_port()
    log = (tmp_path / "web.log").open("w")
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "monitor.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "TAILWATCH_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "0",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "HF_HUB_OFFLINE": "1",
    }
    process = subprocess.Popen(
        ["sh", "-c", procfile_web_command()],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, process, tmp_path / "web.log"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.timeout(180)
def test_gunicorn_serves_pages_and_hashed_compressed_static_files(web_server):
    url, process, log = web_server

    def login_page():
        """gunicorn answers the login page"""
        assert process.poll() is None, log.read_text()
        try:
            response = httpx.get(f"{url}/login/", timeout=10)
        except httpx.TransportError:
            return None
        return response if response.status_code == 200 else None

    page = wait_for(login_page, timeout=120, interval=0.5)
    stylesheet = re.search(r'href="(/static/monitor/style\.[0-9a-f]{12}\.css)"', page.text)
    assert stylesheet, page.text[:2000]

    served = httpx.get(url + stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
    assert served.status_code == 200
    assert served.headers["Content-Encoding"] == "gzip"
    assert "immutable" in served.headers["Cache-Control"]
    assert served.text == (REPO / "static" / "monitor" / "style.css").read_text()
