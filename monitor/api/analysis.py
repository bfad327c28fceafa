"""Read-outs over runs: a metric's series (JSON or CSV), the comparison of two runs, endpoints
or versions (stored values and CIs), and the reports of provenance scans."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers as fields
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluators import METRIC_KEYS
from monitor.api import serializers
from monitor.api.filters import datetime_param, one_of
from monitor.forms import CompareForm
from monitor.models import Endpoint, Scan
from monitor.selectors.compare import COMPARE_BY, ComparisonError, compared_metrics, comparison_runs
from monitor.selectors.scans import scan_report
from monitor.selectors.series import metric_series

MAX_SERIES_POINTS = 5000
SERIES_COLUMNS = ["time", "value", "low", "high", "count", "run"]


class SeriesCSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=SERIES_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(data["points"])
        return out.getvalue().encode()


class SeriesPointSerializer(fields.Serializer):
    time = fields.DateTimeField()
    value = fields.FloatField()
    low = fields.FloatField(allow_null=True, help_text="95% CI, or the bucket's minimum")
    high = fields.FloatField(allow_null=True, help_text="95% CI, or the bucket's maximum")
    count = fields.IntegerField(help_text="Runs averaged into the point")
    run = fields.IntegerField(allow_null=True, help_text="The run of a raw point")


class SeriesSerializer(fields.Serializer):
    endpoint = fields.IntegerField()
    metric = fields.CharField()
    points = SeriesPointSerializer(many=True)


class SeriesView(APIView):
    """One metric of an endpoint over a time range, oldest first: raw points with their 95% CI
    while they fit in ``max_points``, else means of equal time buckets with their min and max."""

    required_perms = ("monitor.view_endpoint", "monitor.view_metricpoint")
    renderer_classes = [JSONRenderer, SeriesCSVRenderer]

    @extend_schema(
        tags=["runs"],
        parameters=[
            OpenApiParameter("metric", str, enum=list(METRIC_KEYS), required=True),
            OpenApiParameter("start", datetime, description="From (ISO 8601)."),
            OpenApiParameter("end", datetime, description="Until (ISO 8601)."),
            OpenApiParameter("max_points", int, description=f"1 to {MAX_SERIES_POINTS}; 500."),
        ],
        responses=SeriesSerializer,
    )
    def get(self, request, pk: int):
        endpoint = get_object_or_404(Endpoint, pk=pk)
        metric = one_of(request, "metric", METRIC_KEYS)
        if metric is None:
            raise ValidationError({"metric": "Name the metric, one of " + ", ".join(METRIC_KEYS)})
        points = metric_series(
            endpoint,
            metric,
            datetime_param(request, "start"),
            datetime_param(request, "end"),
            max_points=_max_points(request),
        )
        rows = [
            {
                "time": datetime.fromtimestamp(point.time, UTC).isoformat(),
                "value": point.value,
                "low": point.low,
                "high": point.high,
                "count": point.count,
                "run": point.run_id,
            }
            for point in points
        ]
        return Response({"endpoint": endpoint.pk, "metric": metric, "points": rows})

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors, and OPTIONS' description of the route, are JSON whatever format was asked.
        if not (isinstance(response.data, dict) and "points" in response.data):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def _max_points(request) -> int:
    value = request.query_params.get("max_points") or "500"
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_SERIES_POINTS):
        raise ValidationError({"max_points": f"A whole number from 1 to {MAX_SERIES_POINTS}."})
    return int(value)


class MetricValueSerializer(fields.Serializer):
    value = fields.FloatField()
    ci_low = fields.FloatField(allow_null=True)
    ci_high = fields.FloatField(allow_null=True)
    n = fields.IntegerField(allow_null=True)


class ComparedMetricSerializer(fields.Serializer):
    metric = fields.CharField()
    a = MetricValueSerializer()
    b = MetricValueSerializer()
    change = fields.CharField(help_text="From A to B, in words.")
    worse = fields.BooleanField(help_text="B moved in the worse direction.")
    judged = fields.BooleanField(help_text="The alert policy watches it.")


class ComparisonSerializer(fields.Serializer):
    run_a = serializers.RunSerializer()
    run_b = serializers.RunSerializer()
    metrics = ComparedMetricSerializer(many=True)


class CompareView(APIView):
    """B against A: two runs, the latest scored runs of two endpoints, or of two versions of a
    model family; every metric's stored value and 95% CI on each side."""

    required_perms = ("monitor.view_run",)

    @extend_schema(
        tags=["runs"],
        parameters=[
            OpenApiParameter("by", str, enum=list(COMPARE_BY), required=True),
            OpenApiParameter("a", str, required=True, description="Run or endpoint id, or label"),
            OpenApiParameter("b", str, required=True, description="Run or endpoint id, or label"),
            OpenApiParameter("family", str, description="The model family (by=version)."),
        ],
        responses=ComparisonSerializer,
    )
    def get(self, request):
        form = CompareForm(request.query_params)
        if not form.is_valid():
            raise ValidationError(serializers.form_errors(form))
        data = form.cleaned_data
        try:
            run_a, run_b = comparison_runs(data["by"], data["a"], data["b"], data["family"])
        except ComparisonError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        context = {"request": request}
        return Response(
            {
                "run_a": serializers.RunSerializer(run_a, context=context).data,
                "run_b": serializers.RunSerializer(run_b, context=context).data,
                "metrics": [
                    {
                        "metric": row.metric,
                        "a": _value(row.a),
                        "b": _value(row.b),
                        "change": row.change,
                        "worse": row.worse,
                        "judged": row.judged,
                    }
                    for row in compared_metrics(run_a, run_b, None)
                ],
            }
        )


def _value(stored: dict) -> dict:
    return {key: stored.get(key) for key in ("value", "ci_low", "ci_high", "n")}


@extend_schema_view(
    # Each scan is its report, as free-form as the command's --json (a page of them when listed).
    list=extend_schema(operation_id="scans_list", responses=OpenApiTypes.OBJECT),
    retrieve=extend_schema(responses=OpenApiTypes.OBJECT),
)
@extend_schema(tags=["scans"])
class ScanViewSet(viewsets.ReadOnlyModelViewSet):
    """Provenance scans, newest first, each as ``manage.py scan --json`` writes it: its state,
    live counts and, once finished, its report (document texts are untrusted)."""

    queryset = Scan.objects.order_by("-created_at", "-pk")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([scan_report(scan) for scan in page])

    def retrieve(self, request, *args, **kwargs):
        return Response(scan_report(self.get_object()))
