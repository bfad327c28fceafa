"""Roles: viewers read, editors run the monitoring, admins run the install. Each role is a
Django group holding model permissions; every view and admin page checks the permission, never
the group, so an admin may also grant single permissions in the admin.

A role's group is created with its permissions by the migration ``0005_roles`` (or, if it has
been deleted since, when a user is next given the role); later edits to the group in the admin
are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.apps import apps as installed_apps
from django.contrib.auth.models import AbstractUser
from django.db.models import Q

# What every page of the web UI shows.
READ_MODELS = (
    "endpoint",
    "promptset",
    "promptsetversion",
    "prompt",
    "run",
    "sample",
    "metricpoint",
    "alertrule",
    "alert",
    "alertevent",
    "ruleevaluation",
    "scan",
)
# What editors create, change and delete.
EDITED_MODELS = ("endpoint", "promptset", "promptsetversion", "prompt", "alertrule", "scan")
# Deleted along with an endpoint or a rule (the admin asks for the right to delete each).
HISTORY_MODELS = (
    "run",
    "sample",
    "metricpoint",
    "alert",
    "alertevent",
    "ruleevaluation",
    "notification",
)

VIEWER_PERMISSIONS = tuple(f"monitor.view_{model}" for model in READ_MODELS)
EDITOR_PERMISSIONS = (
    *VIEWER_PERMISSIONS,
    *(f"monitor.{action}_{model}" for model in EDITED_MODELS for action in ("add", "change")),
    *(f"monitor.delete_{model}" for model in EDITED_MODELS + HISTORY_MODELS),
    # Run now and Test connection: both send the endpoint's prompts with its API key.
    "monitor.run_endpoint",
    # Acknowledge and silence.
    "monitor.change_alert",
)


@dataclass(frozen=True)
class Role:
    name: str
    group: str
    description: str


VIEWER = Role("viewer", "viewers", "reads every page")
EDITOR = Role(
    "editor", "editors", "viewer, and adds, changes, runs and deletes endpoints, prompt sets, rules"
)
ADMIN = Role(
    "admin", "admins", "every permission of the app (channels too), and manages users and roles"
)
ROLES = {role.name: role for role in (VIEWER, EDITOR, ADMIN)}


class UnknownPermissionError(LookupError):
    pass


def role_permissions(role: Role, apps) -> list:
    """The ``Permission`` rows of ``role``."""
    permission_model = apps.get_model("auth", "Permission")
    if role is ADMIN:
        return list(
            permission_model.objects.filter(
                Q(content_type__app_label="monitor")
                | Q(content_type__app_label="auth", content_type__model__in=("user", "group"))
            )
        )
    names = VIEWER_PERMISSIONS if role is VIEWER else EDITOR_PERMISSIONS
    # An early migration's app registry lacks the later models: their permissions are granted
    # by the migration that creates them (scans: 0013).
    names = [name for name in names if _model_exists(apps, name)]
    wanted = [name.split(".") for name in names]
    rows = list(
        permission_model.objects.select_related("content_type").filter(
            reduce(or_, (Q(content_type__app_label=app, codename=code) for app, code in wanted))
        )
    )
    missing = set(names) - {f"{row.content_type.app_label}.{row.codename}" for row in rows}
    if missing:
        raise UnknownPermissionError(f"no permission {sorted(missing)}: run manage.py migrate")
    return rows


def _model_exists(apps, permission: str) -> bool:
    app_label, codename = permission.split(".")
    try:
        apps.get_model(app_label, codename.split("_", 1)[1])
    except LookupError:
        return False
    return True


def role_group(role: Role, apps=installed_apps):
    """The role's group, created with the role's permissions when there is none. ``apps`` is
    the migration's app registry when a migration calls it."""
    group_model = apps.get_model("auth", "Group")
    group, created = group_model.objects.get_or_create(name=role.group)
    if created:
        group.permissions.set(role_permissions(role, apps))
    return group


def assign_role(user: AbstractUser, role: Role) -> None:
    """Give ``user`` exactly ``role``: out of the other roles' groups, into this one's. Every
    role opens the admin, which shows each user only what their permissions allow."""
    others = [other.group for other in ROLES.values() if other is not role]
    user.groups.remove(*user.groups.filter(name__in=others))
    user.groups.add(role_group(role))
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
