from django.contrib import admin

from monitor.forms import EndpointForm
from monitor.models import Endpoint, Prompt, PromptSet, PromptSetVersion, Run, Sample


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

    @admin.display(description="API key")
    def api_key_source(self, obj: Endpoint) -> str:
        return obj.api_key_source


class PromptInline(admin.TabularInline):
    model = Prompt
    extra = 0
    fields = ["key", "kind", "text", "gold", "popularity"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None or not obj.is_used

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is None or not obj.is_used


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
