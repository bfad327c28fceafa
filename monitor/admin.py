from django.contrib import admin, messages

from monitor.forms import AdminLoginForm, EndpointForm
from monitor.models import (
    Alert,
    AlertEvent,
    AlertRule,
    Channel,
    Endpoint,
    MetricPoint,
    Notification,
    Prompt,
    PromptSet,
    PromptSetVersion,
    Run,
    Sample,
)
from monitor.notifications import delivery
from monitor.services import rollups
from monitor.services.endpoints import save_endpoint

admin.site.login_form = AdminLoginForm


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = [
        "name",
        "model_family",
        "version_label",
        "model",
        "enabled",
        "interval_minutes",
        "next_run_at",
    ]
    list_filter = ["enabled", "model_family", "provider_kind"]
    search_fields = ["name", "model_family", "model", "base_url"]
    readonly_fields = ["api_key_source", "next_run_at", "created_at", "updated_at"]
    raw_id_fields = ["baseline_run"]
    autocomplete_fields = ["baseline_endpoint"]

    def get_fields(self, request, obj=None) -> list[str]:
        # The shared form's fields, plus the baseline settings that only the admin edits here;
        # a new endpoint has no stored key to remove (the form drops that field).
        fields = [
            name
            for name in super().get_fields(request, obj)
            if obj is not None or name != "clear_api_key"
        ]
        return [*fields, "baseline_run", "baseline_endpoint", "baseline_window"]

    def get_form(self, request, obj=None, **kwargs):
        # The form decides what the user's role may set (a key variable: admins only).
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def save_model(self, request, obj: Endpoint, form, change: bool) -> None:
        save_endpoint(obj)

    @admin.display(description="API key")
    def api_key_source(self, obj: Endpoint) -> str:
        return obj.api_key_source


class PromptInline(admin.TabularInline):
    model = Prompt
    extra = 0
    fields = ["key", "kind", "text", "gold", "popularity"]

    # A version's prompts are fixed once a run has used them, whoever asks.
    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or not obj.is_used)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or not obj.is_used)


@admin.register(PromptSetVersion)
class PromptSetVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "source_name", "created_at"]
    inlines = [PromptInline]


@admin.register(PromptSet)
class PromptSetAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


class SampleInline(admin.TabularInline):
    model = Sample
    extra = 0
    can_delete = False
    fields = ["prompt", "sample_index", "text", "error_kind", "error", "latency_ms", "attempts"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "endpoint",
        "status",
        "trigger",
        "samples_succeeded",
        "samples_failed",
        "samples_expected",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "trigger", "endpoint"]
    readonly_fields = [field.name for field in Run._meta.fields]
    inlines = [SampleInline]

    def has_add_permission(self, request) -> bool:
        return False

    # A deleted run takes its points with it: their roll-ups are recomputed.
    def delete_model(self, request, obj: Run) -> None:
        with rollups.kept_up_to_date(MetricPoint.objects.filter(run=obj)):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        with rollups.kept_up_to_date(MetricPoint.objects.filter(run__in=queryset)):
            super().delete_queryset(request, queryset)


@admin.register(MetricPoint)
class MetricPointAdmin(admin.ModelAdmin):
    list_display = ["endpoint", "metric", "value", "ci_low", "ci_high", "n", "time", "run"]
    list_filter = ["metric", "endpoint"]
    readonly_fields = [field.name for field in MetricPoint._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def delete_model(self, request, obj: MetricPoint) -> None:
        rollups.delete_points(MetricPoint.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        rollups.delete_points(queryset)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "endpoint", "model_family", "severity", "enabled"]
    list_filter = ["kind", "severity", "enabled"]
    filter_horizontal = ["channels"]


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "run", "value", "message"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["__str__", "state", "opened_at", "fired_at", "resolved_at", "acknowledged_at"]
    list_filter = ["state", "rule__severity", "endpoint"]
    readonly_fields = [
        field.name for field in Alert._meta.fields if field.name not in {"silenced_until"}
    ]
    inlines = [AlertEventInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "target", "is_default", "enabled"]
    actions = ["send_test_notification"]

    @admin.action(description="Send test notification", permissions=["change"])
    def send_test_notification(self, request, queryset) -> None:
        for channel in queryset:
            delivery.send_test(channel)
        self.message_user(
            request, f"Queued {queryset.count()} test notification(s).", messages.SUCCESS
        )


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "event", "is_test", "status", "attempts", "error"]
    list_filter = ["status", "channel"]
    readonly_fields = [field.name for field in Notification._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
