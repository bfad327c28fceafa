"""Headless Chromium (Debian's ``chromium``, driven by Playwright) against the live test server.

Every page fixture fails its test on a console error or an uncaught exception; screenshots go to
``test-artifacts/browser/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import scenario as scenario_module
from tests.conftest import REPO, REQUIRE_SERVICES

CHROMIUM = os.environ.get("TAILWATCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser(django_db_setup):
    # After the test database is set up, and closed before it is torn down: Django refuses
    # those steps in a thread where Playwright's event loop runs.
    if not Path(CHROMIUM).exists():
        message = f"needs Chromium at {CHROMIUM}: apt-get install chromium (make test does)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        # Playwright's sync API keeps an event loop in the test thread while the browser is
        # open, which makes Django refuse ORM calls there (seeding data, flushing the database
        # after each test); nothing async touches the ORM, so the guard has nothing to protect.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def user():
    """An editor: the pages show them every button but the admin's."""
    from tests.factories import make_user

    return make_user("editor", "ops")


def _session_key(user) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def open_tab(browser, live_server, user, request) -> Iterator:
    """Opens tabs (logged in as ``user`` unless told otherwise) at a viewport; fails the test
    on any console error or uncaught exception in any of them, except the errors a
    ``console_allows`` marker expects (the browser logs a refused request as one)."""
    from django.conf import settings

    allowed = [marker.args[0] for marker in request.node.iter_markers("console_allows")]

    opened = []

    def open_tab(viewport: dict = LAPTOP, logged_in: bool = True):
        context = browser.new_context(viewport=viewport, base_url=live_server.url)
        context.set_default_timeout(10_000)
        if logged_in:
            cookie = {"name": settings.SESSION_COOKIE_NAME, "value": _session_key(user)}
            context.add_cookies([{**cookie, "url": live_server.url}])
        tab = context.new_page()
        errors: list[str] = []
        tab.on("console", lambda message: message.type == "error" and errors.append(message.text))
        tab.on("pageerror", lambda error: errors.append(str(error)))
        opened.append((context, errors))
        return tab

    yield open_tab
    for context, _ in opened:
        context.close()
    errors = [
        error
        for _, tab_errors in opened
        for error in tab_errors
        if not any(text in error for text in allowed)
    ]
    assert not errors, f"browser console errors: {errors}"


@pytest.fixture
def page(open_tab):
    """A logged-in tab at laptop width."""
    return open_tab()


@pytest.fixture
def scenario(settings) -> Iterator[scenario_module.Scenario]:
    """Two versions of a model family, sampled from fake model servers that stay up for the
    test (the connection test talks to them), scored with embeddings like a deployment."""
    settings.TAILWATCH_EMBEDDINGS = True
    with scenario_module.FakeModels() as models:
        yield scenario_module.build(models)


def screenshot(page, name: str) -> Path:
    """A full-page PNG under test-artifacts/browser/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
