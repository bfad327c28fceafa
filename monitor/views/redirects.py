"""Where a form sends the user back to after a POST action."""

from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme


def back_to(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """The page the form named in ``next`` when it is on this site, else ``fallback``: a
    ``next`` pointing elsewhere would make the action an open redirect."""
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if safe else fallback)
