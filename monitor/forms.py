"""Forms shared by the web UI and the command line, so both validate alike."""

import json
import math
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from evaluators import METRIC_KEYS
from monitor.clients.openai_compatible import UNSTORABLE_CHARACTERS
from monitor.models import (
    AlertRule,
    AlertState,
    Channel,
    Endpoint,
    PromptSet,
    RuleKind,
    Severity,
    url_origin,
    validate_one_line,
)
from monitor.selectors.compare import COMPARE_BY
from monitor.services import logins
from monitor.services.endpoints import save_endpoint

# Deep enough for a structured-output schema in the request, shallow enough that no model
# server's parser (nor ours, reading it back) meets a nesting limit.
EXTRA_PARAMS_MAX_DEPTH = 8


class ReadableJSONDecoder(json.JSONDecoder):
    """JSON too deeply nested for Python's parser, or with an integer too long for it, is
    invalid input to a form field (as unreadable JSON already is) instead of a server error."""

    def decode(self, s, *args, **kwargs):
        try:
            return super().decode(s, *args, **kwargs)
        except json.JSONDecodeError:
            raise
        except (RecursionError, ValueError) as exc:
            raise json.JSONDecodeError(f"unreadable ({type(exc).__name__})", s, 0) from None


def check_extra_params(value, depth: int = 1) -> None:
    """Refuse NaN and infinities (Python writes them, but they are not JSON and a model
    server's parser rejects them), text no request can carry and no database store (a lone
    surrogate, a NUL), and nesting deeper than ``EXTRA_PARAMS_MAX_DEPTH``."""
    if isinstance(value, float) and not math.isfinite(value):
        raise forms.ValidationError(
            "Extra params may hold finite numbers only, not NaN or Infinity."
        )
    if isinstance(value, str) and UNSTORABLE_CHARACTERS.search(value):
        raise forms.ValidationError(
            "Extra params may not hold a NUL or a lone surrogate (\\u0000, \\ud800–\\udfff)."
        )
    if isinstance(value, dict | list):
        if depth > EXTRA_PARAMS_MAX_DEPTH:
            raise forms.ValidationError(
                f"Extra params may nest at most {EXTRA_PARAMS_MAX_DEPTH} levels deep."
            )
        for key in value if isinstance(value, dict) else ():
            check_extra_params(key, depth)
        for item in value.values() if isinstance(value, dict) else value:
            check_extra_params(item, depth + 1)


# Who may have an endpoint send an operator's key from the environment: the variable is the
# operator's, so an editor naming it could send the key to any server.
BIND_KEY_VARIABLE = "monitor.bind_key_variable"


class EndpointForm(forms.ModelForm):
    """``user`` is who submits it: the pages and the API pass theirs; ``None`` is the operator
    at the command line, trusted as an admin."""

    user = None
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current key.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored API key")

    class Meta:
        model = Endpoint
        fields = [
            "name",
            "model_family",
            "version_label",
            "provider_kind",
            "base_url",
            "model",
            "api_key",
            "api_key_env",
            "clear_api_key",
            "prompt_set",
            "baseline_endpoint",
            "samples_per_prompt",
            "interval_minutes",
            "temperature",
            "top_p",
            "max_tokens",
            "extra_params",
            "concurrency",
            "batch_samples",
            "timeout_seconds",
            "enabled",
        ]

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if user is not None:
            self.user = user
        # The admin shows a user who may only view an endpoint a form without its fields.
        if "prompt_set" in self.fields:
            self.fields["prompt_set"].queryset = PromptSet.objects.all()
            self.fields["prompt_set"].required = True
        if "baseline_endpoint" in self.fields:
            # An endpoint compared with itself would be its own history: the window already is.
            queryset = Endpoint.objects.exclude(pk=self.instance.pk)
            self.fields["baseline_endpoint"].queryset = queryset
        if not self.instance.pk:
            self.fields.pop("clear_api_key", None)
        if "extra_params" in self.fields:
            self.fields["extra_params"].decoder = ReadableJSONDecoder

    def clean_extra_params(self) -> dict:
        value = self.cleaned_data.get("extra_params") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Extra params must be a JSON object.")
        # Set by the client itself: n from batch samples; a streamed reply it does not read.
        reserved = {"model", "messages", "prompt", "n", "stream"} & value.keys()
        if reserved:
            raise forms.ValidationError(f"Extra params may not set {', '.join(sorted(reserved))}.")
        check_extra_params(value)
        return value

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("api_key") and cleaned.get("api_key_env"):
            self.add_error("api_key_env", "Give the key or the name of its variable, not both.")
        if self._would_send_the_stored_key_elsewhere(cleaned):
            self.add_error(
                "api_key",
                "The stored key is sent only to the server it was given for: enter it again "
                "for the new base URL, or remove it.",
            )
        self._check_key_variable(cleaned)
        return cleaned

    def may_bind_key_variable(self) -> bool:
        return self.user is None or self.user.has_perm(BIND_KEY_VARIABLE)

    def _check_key_variable(self, cleaned: dict) -> None:
        """Only an admin names a key variable or points one at another server; an editor may
        remove one. The key follows no edit to a server it was not bound to."""
        variable = cleaned.get("api_key_env")
        if not variable or self.may_bind_key_variable():
            return
        if variable != self.instance.api_key_env:
            self.add_error(
                "api_key_env",
                "Only an admin may name a key variable: it holds the operator's key, which "
                "would be sent to this endpoint's server.",
            )
        elif "base_url" in cleaned and url_origin(cleaned["base_url"]) != (
            self.instance.api_key_origin
        ):
            self.add_error(
                "base_url",
                f"The key from ${variable} is sent only to {self.instance.api_key_origin}, the "
                "server it was bound to: an admin may bind it to the new base URL, or remove "
                "the variable name.",
            )

    def _would_send_the_stored_key_elsewhere(self, cleaned: dict) -> bool:
        """Whether the edit points a stored key at another server: whoever may edit an endpoint
        would otherwise read its key by pointing the base URL at a server of their own."""
        stored = self.instance.pk and self.instance.api_key_encrypted
        if not stored or cleaned.get("api_key") or cleaned.get("clear_api_key"):
            return False
        if cleaned.get("api_key_env") or "base_url" not in cleaned:
            return False
        return url_origin(cleaned["base_url"]) != url_origin(self.instance.base_url)

    def save(self, commit: bool = True) -> Endpoint:
        endpoint = super().save(commit=False)
        if self.cleaned_data.get("api_key"):
            endpoint.set_api_key(self.cleaned_data["api_key"])
        elif self.cleaned_data.get("clear_api_key") or self.cleaned_data.get("api_key_env"):
            endpoint.set_api_key("")
        if endpoint.api_key_env and self.may_bind_key_variable():
            endpoint.bind_api_key()
        if "interval_minutes" in self.changed_data and endpoint.pk:
            # A new interval counts from the last run, not from a time planned under the old one.
            last_run = endpoint.last_run
            endpoint.next_run_at = (last_run.created_at if last_run else timezone.now()) + (
                endpoint.interval
            )
        if commit:
            save_endpoint(endpoint)
        return endpoint


class PromptSetUploadForm(forms.Form):
    name = forms.CharField(
        max_length=100, validators=[validate_one_line], help_text="A new name creates a set."
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(
        help_text="JSONL (one JSON object a line) or CSV with a header row: "
        "id, text, kind (open/probe), gold (aliases separated by |), popularity."
    )


# The largest id a (big) auto field holds: a larger number names nothing, and the database would
# refuse it in a query rather than find no row.
MAX_ID = 2**63 - 1


def is_id(value: str) -> bool:
    """Whether ``value`` is a row id: ASCII digits (``int`` refuses "²", which ``isdigit``
    accepts) making a number from 1 to ``MAX_ID``."""
    return value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ID


class CompareForm(forms.Form):
    """What to compare, read from the query string so that a comparison is a shareable URL."""

    by = forms.ChoiceField(choices=COMPARE_BY.items())
    family = forms.CharField(required=False, max_length=100)
    a = forms.CharField(max_length=100, label="A (reference)")
    b = forms.CharField(max_length=100, label="B (candidate)")

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("by") in {"endpoint", "run"}:
            for side in ("a", "b"):
                if side in cleaned and not is_id(cleaned[side]):
                    self.add_error(side, "Give a number (an id).")
        if cleaned.get("by") == "version" and not cleaned.get("family"):
            self.add_error("family", "Name the model family whose versions to compare.")
        return cleaned


ALERT_STATE_FILTERS = [("open", "Open"), ("resolved", "Resolved"), ("all", "All")]


class AlertFilterForm(forms.Form):
    state = forms.ChoiceField(choices=ALERT_STATE_FILTERS, required=False)
    severity = forms.ChoiceField(choices=[("", "Any"), *Severity.choices], required=False)
    endpoint = forms.ModelChoiceField(
        Endpoint.objects.all(), required=False, empty_label="Any endpoint"
    )
    metric = forms.ChoiceField(
        choices=[("", "Any metric"), *((key, key) for key in METRIC_KEYS)], required=False
    )

    def states(self) -> list[str]:
        chosen = self.cleaned_data.get("state") or "open"
        if chosen == "open":
            return [AlertState.PENDING, AlertState.FIRING]
        if chosen == "resolved":
            return [AlertState.RESOLVED]
        return list(AlertState.values)


SILENCE_CHOICES = [("1", "1 hour"), ("4", "4 hours"), ("24", "1 day"), ("168", "1 week")]


class SilenceForm(forms.Form):
    hours = forms.TypedChoiceField(choices=SILENCE_CHOICES, coerce=int, label="Silence for")

    def until(self):
        return timezone.now() + timedelta(hours=self.cleaned_data["hours"])


class AlertRuleForm(forms.ModelForm):
    metric = forms.ChoiceField(
        choices=[("", "— (endpoint down)"), *((key, key) for key in METRIC_KEYS)],
        required=False,
        help_text="An evaluators metric key; not for 'endpoint down'.",
    )

    class Meta:
        model = AlertRule
        fields = [
            "name",
            "endpoint",
            "model_family",
            "kind",
            "metric",
            "severity",
            "threshold",
            "change_percent",
            "noise_floor",
            "p_value",
            "window_runs",
            "consecutive_runs",
            "reminder_hours",
            "channels",
            "enabled",
        ]
        widgets = {"channels": forms.CheckboxSelectMultiple}

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("kind") == RuleKind.DOWN:
            cleaned["metric"] = ""
        return cleaned


class ChannelForm(forms.ModelForm):
    """A notification channel, validated as the admin's channel page validates it."""

    class Meta:
        model = Channel
        fields = ["name", "kind", "target", "is_default", "enabled"]


class ThrottledLoginMixin:
    """Refuses a login while too many have failed for its username or from its address, and
    counts each failure (see ``monitor.services.logins``)."""

    def clean(self) -> dict:
        username = self.cleaned_data.get("username") or ""
        address = logins.client_address(self.request)
        wait = logins.reserve_attempt(username, address)
        if wait:
            minutes = math.ceil(wait / 60)
            raise forms.ValidationError(
                f"Too many failed logins for this account or from this address. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
                code="throttled",
            )
        cleaned = super().clean()
        logins.clear_failures(username, address)
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class ScanForm(forms.Form):
    """A corpus to scan for our models' outputs, and optionally the human data to hold it to."""

    corpus = forms.FileField(
        help_text="JSONL with a text field, or plain text with one document a line."
    )
    reference = forms.FileField(
        required=False,
        help_text="Optional: a reference corpus (e.g. the human data the last model learned "
        "from) to compare the corpus's variety and rare words with. Same formats.",
    )
    threshold = forms.FloatField(
        min_value=0.05,
        max_value=1.0,
        help_text="Jaccard similarity of word shingles from which a document is a near-copy.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["threshold"].initial = settings.TAILWATCH_SCAN_THRESHOLD

    def clean_corpus(self):
        return self._within_upload_cap(self.cleaned_data["corpus"])

    def clean_reference(self):
        return self._within_upload_cap(self.cleaned_data["reference"])

    @staticmethod
    def _within_upload_cap(upload):
        cap = settings.TAILWATCH_SCAN_MAX_UPLOAD_BYTES
        if upload is not None and upload.size > cap:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes, over the {cap:,} bytes an upload may be; "
                "scan it with manage.py scan on the server."
            )
        return upload
