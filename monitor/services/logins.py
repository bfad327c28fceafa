"""Failed logins, counted per username and per client address.

Past a limit, further tries are refused until the window that the first failure opened has
passed, so that passwords cannot be guessed at the speed of the server. Counts live in the
shared cache, so every web process sees them. The address is the connection's: behind a proxy
every client shares the proxy's, which is why its limit is the higher one.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

_reserving = threading.Lock()


def _counters(username: str, address: str) -> list[tuple[str, int]]:
    # Hashed: a username may hold anything, and cache keys are limited in length and alphabet.
    user = hashlib.sha256(username.casefold().encode()).hexdigest()
    return [
        (f"login-failures:user:{user}", settings.TAILWATCH_LOGIN_FAILURES_PER_USER),
        (f"login-failures:address:{address}", settings.TAILWATCH_LOGIN_FAILURES_PER_ADDRESS),
    ]


def client_address(request: HttpRequest | None) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def reserve_attempt(username: str, address: str) -> int:
    """Count a login try against both limits before its password is checked, and say how long
    logins for ``username`` from ``address`` stay refused (0: this try may go on).

    Counting first, atomically (``cache.incr``; a lock for the threads of one process, for
    caches whose ``incr`` is not atomic), is what keeps tries sent in parallel within the
    limits: checking first and counting after the slow password hash let every try in flight
    through. A try that succeeds gives its count back (``clear_failures``)."""
    now = time.time()
    window = settings.TAILWATCH_LOGIN_LOCKOUT_SECONDS
    wait = 0.0
    with _reserving:
        for key, limit in _counters(username, address):
            # The window is the first try's: a later one does not extend it.
            cache.add(f"{key}:until", now + window, timeout=window)
            cache.add(key, 0, timeout=window)
            try:
                count = cache.incr(key)
            except ValueError:  # the window ended between add and incr
                cache.add(key, 1, timeout=window)
                count = 1
            if count > limit:
                wait = max(wait, cache.get(f"{key}:until", now) - now)
    return max(1, round(wait)) if wait > 0 else 0


def clear_failures(username: str, address: str) -> None:
    """A try that gave the right password: forget the username's count, and give back the
    address's count for this try only; the address keeps the rest, or one account known to an
    attacker would reset the guessing at others."""
    user_key, address_key = (key for key, _limit in _counters(username, address))
    cache.delete_many([user_key, f"{user_key}:until"])
    with _reserving, contextlib.suppress(ValueError):
        cache.decr(address_key)
