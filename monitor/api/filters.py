"""Query-string filters read strictly: a malformed value is a 400 that names it, never a
server error nor a silently ignored filter."""

from __future__ import annotations

from datetime import UTC, datetime

from rest_framework.exceptions import ValidationError

from monitor.forms import is_id
from monitor.moments import parse_moment


def id_param(request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if not is_id(value):
        raise ValidationError({name: f"Give a positive whole number, not {value[:40]!r}."})
    return int(value)


def one_of(request, name: str, choices) -> str | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if value not in choices:
        raise ValidationError({name: f"One of {', '.join(choices)}."})
    return value


def datetime_param(request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return parse_moment(value, naive_zone=UTC)
    except ValueError as exc:
        raise ValidationError({name: str(exc)}) from exc
