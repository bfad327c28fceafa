"""Endpoints, prompt sets and their versions, runs and their samples."""

from __future__ import annotations

from django.db.models import Count, Max
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from monitor.api import serializers
from monitor.api.filters import id_param, one_of
from monitor.forms import PromptSetUploadForm
from monitor.models import Endpoint, PromptSet, Run, RunStatus, Sample
from monitor.services import prompts, sampling

ENDPOINT_FILTERS = [
    OpenApiParameter("model_family", str, description="Only this model family."),
    OpenApiParameter("version_label", str, description="Only this version label."),
    OpenApiParameter("name", str, description="Only the endpoint of this name."),
]


@extend_schema(tags=["endpoints"])
class EndpointViewSet(viewsets.ModelViewSet):
    """Registered endpoints. A new one starts with the default alert rules; its API key is
    write-only; ``baseline_endpoint`` makes it a new version judged against that endpoint."""

    required_perms = None  # an @action sets its own

    serializer_class = serializers.EndpointSerializer

    def get_queryset(self):
        endpoints = Endpoint.objects.order_by("pk")
        for field in ("model_family", "version_label", "name"):
            value = self.request.query_params.get(field)
            if value:
                endpoints = endpoints.filter(**{field: value})
        return endpoints

    @extend_schema(parameters=ENDPOINT_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={201: serializers.RunSerializer})
    @action(detail=True, methods=["post"], required_perms=("monitor.run_endpoint",))
    def run(self, request, pk=None):
        """Run now: queue a run of the endpoint on its prompt set's newest version."""
        endpoint = self.get_object()
        try:
            run = sampling.start_run(endpoint)
        except sampling.RunNotStartedError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        data = serializers.RunSerializer(run, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["prompt sets"])
class PromptSetViewSet(viewsets.ReadOnlyModelViewSet):
    """Prompt sets, and uploads of new versions through the same checks as the upload page."""

    required_perms = None  # an @action sets its own

    serializer_class = serializers.PromptSetSerializer

    def get_queryset(self):
        return PromptSet.objects.annotate(latest_version_number=Max("versions__number")).order_by(
            "pk"
        )

    @extend_schema(
        request={"multipart/form-data": serializers.PromptSetUploadSerializer},
        responses={201: serializers.PromptSetVersionSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        parser_classes=[MultiPartParser, FormParser],
        required_perms=("monitor.add_promptset", "monitor.add_promptsetversion"),
    )
    def upload(self, request):
        """A JSONL or CSV file becomes the next version of the named set (created if new);
        a bad file imports nothing and lists every problem."""
        form = PromptSetUploadForm(request.data, request.FILES)
        if not form.is_valid():
            raise ValidationError(serializers.form_errors(form))
        data = form.cleaned_data
        try:
            version = prompts.import_prompt_file(
                data["name"],
                data["file"].name,
                data["file"].read(prompts.MAX_UPLOAD_BYTES + 1),
                data["description"],
            )
        except prompts.PromptImportError as exc:
            raise ValidationError({"file": exc.errors}) from None
        version.prompt_count = version.prompts.count()
        body = serializers.PromptSetVersionSerializer(version).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses=serializers.PromptSetVersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        """Every version of the set, newest first, with its prompt count."""
        versions = self.get_object().versions.annotate(prompt_count=Count("prompts"))
        page = self.paginate_queryset(versions.order_by("-number"))
        return self.get_paginated_response(
            serializers.PromptSetVersionSerializer(page, many=True).data
        )

    @extend_schema(
        parameters=[OpenApiParameter("version", int, description="Version number; the newest")],
        responses=serializers.PromptSerializer(many=True),
    )
    @action(detail=True, methods=["get"], required_perms=("monitor.view_prompt",))
    def prompts(self, request, pk=None):
        """The prompts of one version (the newest unless ``version`` is given)."""
        prompt_set = self.get_object()
        number = id_param(request, "version")
        versions = prompt_set.versions.order_by("-number")
        version = get_object_or_404(versions, number=number) if number else versions.first()
        rows = version.prompts.order_by("position") if version else []
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(serializers.PromptSerializer(page, many=True).data)


RUN_FILTERS = [
    OpenApiParameter("endpoint", int, description="Only runs of this endpoint (its id)."),
    OpenApiParameter("status", str, enum=list(RunStatus.values), description="Only this status."),
    OpenApiParameter("trigger", str, enum=["schedule", "manual"], description="How it started."),
]


@extend_schema(tags=["runs"])
class RunViewSet(viewsets.ReadOnlyModelViewSet):
    """Runs, newest first; a run's detail carries its metric values and their 95% CIs."""

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.RunDetailSerializer
        return serializers.RunSerializer

    def get_queryset(self):
        runs = Run.objects.select_related("endpoint").order_by("-created_at", "-pk")
        endpoint = id_param(self.request, "endpoint")
        if endpoint:
            runs = runs.filter(endpoint_id=endpoint)
        for field, choices in (("status", RunStatus.values), ("trigger", ["schedule", "manual"])):
            value = one_of(self.request, field, choices)
            if value:
                runs = runs.filter(**{field: value})
        return runs

    @extend_schema(parameters=RUN_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


@extend_schema(tags=["runs"])
class SampleViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The samples of one run (outputs are untrusted text), in prompt order."""

    serializer_class = serializers.SampleSerializer

    def get_queryset(self):
        run = get_object_or_404(Run, pk=self.kwargs["run_pk"])
        return (
            Sample.objects.filter(run=run)
            .select_related("prompt")
            .order_by("prompt__position", "sample_index")
        )
