"""The release gate over HTTP: ``GET /api/runs/{id}/verdict/`` until it is no longer pending."""

from __future__ import annotations

from dataclasses import asdict

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers as fields
from rest_framework.response import Response
from rest_framework.views import APIView

from monitor.api import serializers
from monitor.models import Run
from monitor.selectors.verdict import ERROR, FAIL, PASS, PENDING, Verdict, run_verdict


class FindingSerializer(fields.Serializer):
    rule = fields.IntegerField()
    rule_name = fields.CharField()
    kind = fields.CharField()
    metric = fields.CharField(allow_blank=True, help_text="Empty for an endpoint-down rule.")
    severity = fields.CharField()
    outcome = fields.CharField()
    summary = fields.CharField()
    value = fields.FloatField(allow_null=True)
    baseline_value = fields.FloatField(allow_null=True)
    p_value = fields.FloatField(allow_null=True)


class VerdictSerializer(fields.Serializer):
    state = fields.ChoiceField(choices=[PENDING, PASS, FAIL, ERROR])
    reason = fields.CharField()
    run = serializers.RunSerializer()
    baseline_run = fields.IntegerField(allow_null=True)
    regressed = FindingSerializer(many=True)
    undecided = FindingSerializer(many=True, help_text="Rules that could not tell yet.")
    links = fields.DictField(child=fields.URLField(), help_text="run, and compare once scored")


def verdict_body(verdict: Verdict, request) -> dict:
    return {
        "state": verdict.state,
        "reason": verdict.reason,
        "run": serializers.RunSerializer(verdict.run, context={"request": request}).data,
        "baseline_run": verdict.baseline_run,
        "regressed": [asdict(finding) for finding in verdict.regressed],
        "undecided": [asdict(finding) for finding in verdict.undecided],
        "links": {name: request.build_absolute_uri(path) for name, path in verdict.links.items()},
    }


class VerdictView(APIView):
    """pending while the run is sampled, scored and judged; then pass, or fail with the
    metrics whose alert rules it breached (against the baseline endpoint's run, by the alert
    policy), or error when the run could not be judged."""

    required_perms = ("monitor.view_run", "monitor.view_ruleevaluation")

    @extend_schema(tags=["release gate"], responses=VerdictSerializer)
    def get(self, request, pk: int):
        run = get_object_or_404(Run.objects.select_related("endpoint"), pk=pk)
        return Response(verdict_body(run_verdict(run), request))
