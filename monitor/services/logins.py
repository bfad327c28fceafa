"""Failed logins, counted per username and per client address.

Past a limit, further tries are refused until the window that the first failure opened has
passed, so that passwords cannot be guessed at the speed of the server. Counts live in the
shared cache, so every web process sees them. The address is the connection's: behind a proxy
every client shares the proxy's, which is why its limit is the higher one.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _counters(username: str, address: str) -> list[tuple[str, int]]:
    # Hashed: a username may hold anything, and cache keys are limited in length and alphabet.
    user = hashlib.sha256(username.casefold().encode()).hexdigest()
    return [
        (f"login-failures:user:{user}", settings.TAILWATCH_LOGIN_FAILURES_PER_USER),
        (f"login-failures:address:{address}", settings.TAILWATCH_LOGIN_FAILURES_PER_ADDRESS),
    ]


def client_address(request: HttpRequest | None) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def seconds_locked(username: str, address: str) -> int:
    """How long logins for ``username`` from ``address`` stay refused; 0: they are allowed."""
    now = time.time()
    wait = 0.0
    for key, limit in _counters(username, address):
        count, until = cache.get(key, (0, now))
        if count >= limit:
            wait = max(wait, until - now)
    return max(1, round(wait)) if wait > 0 else 0


def record_failure(username: str, address: str) -> None:
    now = time.time()
    for key, _limit in _counters(username, address):
        count, until = cache.get(key, (0, now + settings.TAILWATCH_LOGIN_LOCKOUT_SECONDS))
        # The window is the first failure's: a later failure does not extend it.
        cache.set(key, (count + 1, until), timeout=max(1, round(until - now)))


def clear_failures(username: str) -> None:
    """Forget the username's failures once its password was given; the address keeps its
    count, or one account known to an attacker would reset the guessing at others."""
    cache.delete(_counters(username, "")[0][0])
