"""Logins: failures are counted per username and per address, and past a limit refused for a
while, on the login page and the admin's alike."""

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import reverse

from monitor.forms import LoginForm

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
REFUSED = "Too many failed logins for this account or from this address."


@pytest.fixture(autouse=True)
def limits(settings):
    settings.TAILWATCH_LOGIN_FAILURES_PER_USER = 3
    settings.TAILWATCH_LOGIN_FAILURES_PER_ADDRESS = 5
    settings.TAILWATCH_LOGIN_LOCKOUT_SECONDS = 600


@pytest.fixture
def ops():
    return User.objects.create_user("ops", password=PASSWORD, is_staff=True)


def log_in(client, username, password, address="192.0.2.1", url="login"):
    page = reverse(url)
    return client.post(page, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_after_too_many_failures_even_the_right_password_waits_out_the_window(client, ops):
    with time_machine.travel("2030-01-01 12:00", tick=False) as clock:
        for _ in range(3):
            assert "correct username and password" in log_in(client, "ops", "wrong").text
        response = log_in(client, "ops", PASSWORD)
        assert response.status_code == 200 and not logged_in(client)
        assert f"{REFUSED} Try again in 10 minutes." in response.text

        clock.shift(timedelta(minutes=9))
        assert "Try again in 1 minute." in log_in(client, "ops", PASSWORD).text
        clock.shift(timedelta(minutes=1, seconds=1))
        assert log_in(client, "ops", PASSWORD).status_code == 302 and logged_in(client)


def test_the_count_is_per_username_whatever_the_address(client, ops):
    for number in range(3):
        log_in(client, "ops", "wrong", address=f"198.51.100.{number}")
    assert REFUSED in log_in(client, "ops", PASSWORD, address="203.0.113.9").text
    User.objects.create_user("other", password=PASSWORD)
    assert log_in(client, "other", PASSWORD, address="203.0.113.9").status_code == 302


def test_the_count_is_per_address_whatever_the_username(client, ops):
    for number in range(5):
        log_in(client, f"guess-{number}", "wrong")
    assert REFUSED in log_in(client, "ops", PASSWORD).text
    assert log_in(client, "ops", PASSWORD, address="203.0.113.9").status_code == 302


def test_a_login_forgets_the_usernames_failures(client, ops):
    for _ in range(2):
        log_in(client, "ops", "wrong")
    assert log_in(client, "ops", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        log_in(client, "ops", "wrong", address="203.0.113.9")
    assert log_in(client, "ops", PASSWORD, address="203.0.113.9").status_code == 302


def test_the_admin_login_is_throttled_too(client, ops):
    for _ in range(3):
        log_in(client, "ops", "wrong", url="admin:login")
    response = log_in(client, "ops", PASSWORD, url="admin:login")
    assert REFUSED in response.text and not logged_in(client)


def test_tries_sent_in_parallel_are_counted_before_their_passwords_are_checked(monkeypatch):
    # The password check is slow (a real hasher); ten tries at once must not all reach it while
    # none has been counted yet.
    checked = []

    def slow_check(request, **credentials):
        checked.append(credentials["username"])
        time.sleep(0.2)
        return None

    monkeypatch.setattr(auth_forms, "authenticate", slow_check)
    request = RequestFactory().post("/login/", REMOTE_ADDR="192.0.2.7")

    def try_once() -> None:
        form = LoginForm(request, data={"username": "ops", "password": "guess"})
        assert not form.is_valid()

    threads = [threading.Thread(target=try_once) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checked) == 3
