"""Alerts (acknowledge, silence: the services the alerts page calls), rules and channels."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from evaluators import METRIC_KEYS
from monitor.api import serializers
from monitor.api.filters import id_param, one_of
from monitor.models import AlertState, Channel, Severity
from monitor.selectors.alerts import alert_rules, filtered_alerts
from monitor.services import alerting

ALERT_STATES = {
    "open": [AlertState.PENDING, AlertState.FIRING],
    "resolved": [AlertState.RESOLVED],
    "all": list(AlertState.values),
}
ALERT_FILTERS = [
    OpenApiParameter("state", str, enum=list(ALERT_STATES), description="Default: open."),
    OpenApiParameter("severity", str, enum=list(Severity.values)),
    OpenApiParameter("endpoint", int, description="Only alerts of this endpoint (its id)."),
    OpenApiParameter("metric", str, enum=list(METRIC_KEYS)),
]
ALERT_CHANGE = ("monitor.change_alert",)


@extend_schema(tags=["alerts"])
class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts, newest first: open ones unless ``state`` says otherwise."""

    required_perms = None  # an @action sets its own

    serializer_class = serializers.AlertSerializer

    def get_queryset(self):
        if self.action != "list":
            return filtered_alerts(ALERT_STATES["all"])
        state = one_of(self.request, "state", list(ALERT_STATES)) or "open"
        return filtered_alerts(
            ALERT_STATES[state],
            severity=one_of(self.request, "severity", Severity.values) or "",
            endpoint=id_param(self.request, "endpoint"),
            metric=one_of(self.request, "metric", METRIC_KEYS) or "",
        )

    @extend_schema(parameters=ALERT_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=serializers.AlertSerializer)
    @action(detail=True, methods=["post"], required_perms=ALERT_CHANGE)
    def acknowledge(self, request, pk=None):
        """Stop reminders for the alert; it still resolves when the value recovers."""
        alert = self.get_object()
        alerting.acknowledge(alert, request.user)
        return Response(self.get_serializer(alert).data)

    @extend_schema(request=serializers.SilenceSerializer, responses=serializers.AlertSerializer)
    @action(detail=True, methods=["post"], required_perms=ALERT_CHANGE)
    def silence(self, request, pk=None):
        """Send nothing about the alert for ``hours``; its state still changes."""
        alert = self.get_object()
        body = serializers.SilenceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alerting.silence(alert, timezone.now() + timedelta(hours=body.validated_data["hours"]))
        return Response(self.get_serializer(alert).data)


@extend_schema(tags=["alerts"])
class AlertRuleViewSet(viewsets.ModelViewSet):
    """Alert rules, checked by the rule page's form."""

    serializer_class = serializers.AlertRuleSerializer

    def get_queryset(self):
        return alert_rules().order_by("pk")


@extend_schema(tags=["alerts"])
class ChannelViewSet(viewsets.ModelViewSet):
    """Notification channels (email lists, webhooks): admins only, as in the admin."""

    serializer_class = serializers.ChannelSerializer
    queryset = Channel.objects.order_by("pk")
