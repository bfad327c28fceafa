"""What the API reads and writes. Writes are checked by the web UI's own forms (or the model's
``clean``), so a value the pages refuse the API refuses too, with the same message."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.forms import model_to_dict
from rest_framework import serializers

from monitor.forms import AlertRuleForm, EndpointForm
from monitor.models import (
    Alert,
    AlertRule,
    Channel,
    Endpoint,
    MetricPoint,
    Prompt,
    PromptSet,
    PromptSetVersion,
    Run,
    Sample,
)


def form_errors(form) -> dict:
    """A bound form's errors the way DRF words them: field -> messages."""
    errors = {
        field: [str(message) for message in messages] for field, messages in form.errors.items()
    }
    if "__all__" in errors:
        errors["non_field_errors"] = errors.pop("__all__")
    return errors


class FormValidatedSerializer(serializers.ModelSerializer):
    """Validated and saved by ``form_class``, the form of the page that edits the same thing;
    a partial update keeps the stored values of the fields it leaves out."""

    form_class: type

    def validate(self, attrs: dict) -> dict:
        fields = self.form_class._meta.fields
        # A new object starts from the model's defaults, as the page's empty form does.
        data = model_to_dict(self.instance or self.Meta.model(), fields=fields)
        data.update(attrs)
        form = self.form_class(data=data, instance=self.instance, **self.form_kwargs())
        if not form.is_valid():
            raise serializers.ValidationError(form_errors(form))
        self._form = form
        return attrs

    def form_kwargs(self) -> dict:
        return {}

    def create(self, validated_data: dict):
        return self._form.save()

    def update(self, instance, validated_data: dict):
        return self._form.save()


class EndpointSerializer(FormValidatedSerializer):
    form_class = EndpointForm
    api_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        help_text="Stored encrypted, never returned. Omit to keep the stored key.",
    )
    clear_api_key = serializers.BooleanField(
        write_only=True, required=False, help_text="Remove the stored API key."
    )
    api_key_source = serializers.CharField(read_only=True)
    prompt_set = serializers.PrimaryKeyRelatedField(queryset=PromptSet.objects.all())

    class Meta:
        model = Endpoint
        # What the edit page sets (the form validates it), and what only the system sets.
        read_only_fields = ["baseline_run", "next_run_at", "created_at", "updated_at"]
        fields = ["id", *EndpointForm.Meta.fields, "api_key_source", *read_only_fields]

    def form_kwargs(self) -> dict:
        # The form decides what the caller's role may set (a key variable: admins only).
        return {"user": self.context["request"].user}


class PromptSetVersionSerializer(serializers.ModelSerializer):
    prompt_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = PromptSetVersion
        fields = ["id", "prompt_set", "number", "source_name", "created_at", "prompt_count"]


class PromptSetSerializer(serializers.ModelSerializer):
    latest_version = serializers.IntegerField(
        read_only=True, allow_null=True, source="latest_version_number"
    )

    class Meta:
        model = PromptSet
        fields = ["id", "name", "description", "created_at", "latest_version"]
        read_only_fields = fields


class PromptSetUploadSerializer(serializers.Serializer):
    """A prompt file (JSONL or CSV) for the named set, created when the name is new. The
    upload page's form checks it (``PromptSetUploadForm``); this describes it in the schema."""

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    file = serializers.FileField()


class PromptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prompt
        fields = ["id", "key", "position", "kind", "text", "gold", "popularity"]


class RunSerializer(serializers.ModelSerializer):
    stage = serializers.CharField(read_only=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "endpoint",
            "prompt_set_version",
            "trigger",
            "status",
            "stage",
            "samples_per_prompt",
            "samples_expected",
            "samples_succeeded",
            "samples_failed",
            "error_summary",
            "score_error",
            "stage_error",
            "awaits_baseline",
            "created_at",
            "started_at",
            "finished_at",
            "scored_at",
            "alerts_evaluated_at",
            "links",
        ]
        read_only_fields = fields

    def get_links(self, run: Run) -> dict[str, str]:
        return {"page": run_page_url(self.context.get("request"), run)}


class RunDetailSerializer(RunSerializer):
    metrics = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "request_params", "metrics"]
        read_only_fields = fields

    def get_metrics(self, run: Run) -> list[dict]:
        return MetricPointSerializer(run.points.order_by("metric"), many=True).data


def run_page_url(request, run: Run) -> str:
    path = run.get_absolute_url()
    return request.build_absolute_uri(path) if request is not None else path


class MetricPointSerializer(serializers.ModelSerializer):
    class Meta:
        model = MetricPoint
        fields = ["metric", "value", "ci_low", "ci_high", "n"]


class SampleSerializer(serializers.ModelSerializer):
    prompt_key = serializers.CharField(source="prompt.key", read_only=True)

    class Meta:
        model = Sample
        fields = [
            "id",
            "prompt",
            "prompt_key",
            "sample_index",
            "text",
            "finish_reason",
            "prompt_tokens",
            "completion_tokens",
            "latency_ms",
            "attempts",
            "error_kind",
            "error",
            "created_at",
        ]
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    metric = serializers.CharField(source="rule.metric", read_only=True)
    severity = serializers.CharField(source="rule.severity", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "endpoint",
            "metric",
            "severity",
            "state",
            "breaching_runs",
            "summary",
            "value",
            "baseline_value",
            "p_value",
            "opened_at",
            "fired_at",
            "resolved_at",
            "acknowledged_at",
            "acknowledged_by",
            "silenced_until",
        ]
        read_only_fields = fields


class SilenceSerializer(serializers.Serializer):
    hours = serializers.IntegerField(
        min_value=1, max_value=24 * 31, help_text="Send nothing about the alert for this long."
    )


class AlertRuleSerializer(FormValidatedSerializer):
    form_class = AlertRuleForm

    class Meta:
        model = AlertRule
        fields = ["id", *AlertRuleForm._meta.fields, "created_at"]
        read_only_fields = ["created_at"]


class ChannelSerializer(serializers.ModelSerializer):
    """Checked by ``Channel.clean``: webhook URLs by the egress policy, email addresses."""

    class Meta:
        model = Channel
        fields = ["id", "name", "kind", "target", "is_default", "enabled", "created_at"]
        read_only_fields = ["created_at"]

    def validate(self, attrs: dict) -> dict:
        channel = Channel(**{**model_to_dict(self.instance or Channel()), **attrs})
        channel.pk = self.instance.pk if self.instance else None
        try:
            channel.full_clean(validate_unique=False)
        except DjangoValidationError as exc:
            # Channel.clean judges the target against the kind: its errors are the target's.
            errors = exc.message_dict
            errors["target"] = errors.pop(NON_FIELD_ERRORS, []) + errors.get("target", [])
            raise serializers.ValidationError({k: v for k, v in errors.items() if v}) from None
        return attrs
