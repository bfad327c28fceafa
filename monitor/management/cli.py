"""What the management commands share: finding rows by name, and saving through the web forms.

Commands change data only through the forms and services the pages use, so a script is held to
the same validation as a person at the browser; a refusal is a ``CommandError`` (exit status 1)
that says what to fix.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from django import forms
from django.core.management.base import CommandError
from django.db import models
from django.forms.models import model_to_dict

from monitor.models import Endpoint, PromptSet
from monitor.moments import parse_moment


def endpoint_named(name: str) -> Endpoint:
    endpoint = Endpoint.objects.filter(name=name).first()
    if endpoint is None:
        raise CommandError(f"no endpoint named {name!r}")
    return endpoint


def prompt_set_named(name: str) -> PromptSet:
    prompt_set = PromptSet.objects.filter(name=name).first()
    if prompt_set is None:
        raise CommandError(f"no prompt set named {name!r}")
    return prompt_set


def form_problems(form: forms.BaseForm) -> CommandError:
    """The form's errors on one line, field by field."""
    problems = "; ".join(
        f"{field}: {' '.join(errors)}" if field != "__all__" else " ".join(errors)
        for field, errors in form.errors.items()
    )
    return CommandError(problems)


def save_with_form(form_class: type[forms.ModelForm], instance: models.Model, changes: dict):
    """Save ``instance`` with ``changes`` through ``form_class``, as the page that edits it
    would: every field the form shows keeps its current value unless ``changes`` names it."""
    current = model_to_dict(instance, fields=form_class.Meta.fields)
    for field, value in current.items():
        if isinstance(value, list):  # many-to-many: the form takes ids
            current[field] = [item.pk if isinstance(item, models.Model) else item for item in value]
    form = form_class(data={**current, **changes}, instance=instance)
    if not form.is_valid():
        raise form_problems(form)
    return form.save()


def moment(value: str) -> datetime:
    """An argparse type: an ISO 8601 date or date and time; without a zone, in TIME_ZONE."""
    try:
        return parse_moment(value, dates=True)
    except ValueError as exc:  # argparse shows an ArgumentTypeError's own message
        raise argparse.ArgumentTypeError(str(exc)) from exc
