"""Moments typed by people (query strings, command lines): ISO 8601 text to an aware datetime
that can be compared with stored ones, or a ValueError that says what is wrong with it."""

from __future__ import annotations

from datetime import UTC, datetime, time, tzinfo

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime


def parse_moment(value: str, *, naive_zone: tzinfo | None = None, dates: bool = False) -> datetime:
    """``value``, an ISO 8601 date and time (or, with ``dates``, a date: its midnight), in
    ``naive_zone`` (default: the current time zone) when it names none.

    A moment whose UTC time falls outside years 1 to 9999 (0001-01-01T00:00+14:00) is refused:
    Python cannot convert it, so neither the database nor a comparison could use it."""
    if dates:
        wrong = ValueError("Give an ISO 8601 date or date and time, e.g. 2026-01-31T12:00Z.")
    else:
        wrong = ValueError("Give an ISO 8601 date and time, e.g. 2026-01-31T12:00Z.")
    try:
        moment = parse_datetime(value)
        if moment is None and dates and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError as exc:  # well formed but no such day or hour (2026-02-30)
        raise wrong from exc
    if moment is None:
        raise wrong
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, naive_zone)
    try:
        moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(
            f"{value[:40]!r} is out of range: in UTC it must fall within years 1 to 9999."
        ) from exc
    return moment
