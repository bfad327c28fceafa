"""Who may open a page: a logged-in user holding its permissions (see monitor/services/roles.py).
A user without them gets 403, never a redirect to the login they already passed."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def requires(*permissions: str, to_post: tuple[str, ...] = ()) -> Callable:
    """The view, for a user holding ``permissions`` (and ``to_post`` as well when the request
    is a POST); an anonymous visitor is sent to log in first."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            needed = permissions + (to_post if request.method == "POST" else ())
            if not request.user.has_perms(needed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(checked)

    return decorator
