"""Who may do what through the API: the permissions of the roles (monitor/services/roles.py),
as the pages check them. No credentials: 401; a role without the permission: 403."""

from rest_framework.permissions import BasePermission

# The model permission each method needs, as the admin and the pages name them.
ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


class RolePermission(BasePermission):
    """A view names what it needs with ``required_perms`` (a tuple of permissions, or a dict
    from method to tuple, as an ``@action`` may set), or else the permission of its model for
    the request's method."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.user.has_perms(needed_permissions(request, view))


def needed_permissions(request, view) -> tuple[str, ...]:
    required = getattr(view, "required_perms", None)
    if isinstance(required, dict):
        return tuple(required.get(request.method, required.get("*", ())))
    if required is not None:
        return tuple(required)
    model = view.get_queryset().model
    action = ACTIONS.get(request.method, "change")
    return (f"{model._meta.app_label}.{action}_{model._meta.model_name}",)
