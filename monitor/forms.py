"""Forms shared by the web UI and the command line, so both validate alike."""

from django import forms
from django.utils import timezone

from monitor.models import Endpoint, PromptSet


class EndpointForm(forms.ModelForm):
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
            "samples_per_prompt",
            "interval_minutes",
            "temperature",
            "top_p",
            "max_tokens",
            "extra_params",
            "concurrency",
            "timeout_seconds",
            "enabled",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prompt_set"].queryset = PromptSet.objects.all()
        self.fields["prompt_set"].required = True
        if not self.instance.pk:
            del self.fields["clear_api_key"]

    def clean_extra_params(self) -> dict:
        value = self.cleaned_data.get("extra_params") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Extra params must be a JSON object.")
        reserved = {"model", "messages", "prompt"} & value.keys()
        if reserved:
            raise forms.ValidationError(f"Extra params may not set {', '.join(sorted(reserved))}.")
        return value

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("api_key") and cleaned.get("api_key_env"):
            self.add_error("api_key_env", "Give the key or the name of its variable, not both.")
        return cleaned

    def save(self, commit: bool = True) -> Endpoint:
        endpoint = super().save(commit=False)
        if self.cleaned_data.get("api_key"):
            endpoint.set_api_key(self.cleaned_data["api_key"])
        elif self.cleaned_data.get("clear_api_key") or self.cleaned_data.get("api_key_env"):
            endpoint.set_api_key("")
        if "interval_minutes" in self.changed_data and endpoint.pk:
            # A new interval counts from the last run, not from a time planned under the old one.
            last_run = endpoint.last_run
            endpoint.next_run_at = (last_run.created_at if last_run else timezone.now()) + (
                endpoint.interval
            )
        if commit:
            endpoint.save()
        return endpoint


class PromptSetUploadForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="A new name creates a set.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(
        help_text="JSONL (one JSON object a line) or CSV with a header row: "
        "id, text, kind (open/probe), gold (aliases separated by |), popularity."
    )
