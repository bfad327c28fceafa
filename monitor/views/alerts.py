"""Alerts: open and past alerts with filters, acknowledge and silence; the rules behind them."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from monitor.forms import AlertFilterForm, AlertRuleForm, SilenceForm
from monitor.models import Alert, AlertRule
from monitor.selectors.alerts import alert_rules, filtered_alerts, with_length_context
from monitor.services import alerting
from monitor.views.access import requires
from monitor.views.redirects import back_to

PAST_ALERTS_SHOWN = 200


@requires("monitor.view_alert")
def alert_list(request: HttpRequest) -> HttpResponse:
    # Always bound: an empty query string is valid and means "open alerts, any of them".
    filters = AlertFilterForm(request.GET)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    alerts = filtered_alerts(
        filters.states() if chosen else [],
        severity=chosen.get("severity", ""),
        endpoint=chosen.get("endpoint"),
        metric=chosen.get("metric", ""),
    )
    context = {
        "filters": filters,
        "alerts": with_length_context(alerts[:PAST_ALERTS_SHOWN]),
        "shown_limit": PAST_ALERTS_SHOWN,
        "silence_form": SilenceForm(),
        "rules": alert_rules(),
    }
    return render(request, "monitor/alert_list.html", context)


@requires("monitor.change_alert")
@require_POST
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert, pk=pk)
    alerting.acknowledge(alert, request.user)
    messages.success(request, f"Acknowledged: {alert}. No more reminders for it.")
    return back_to(request, alert.get_absolute_url())


@requires("monitor.change_alert")
@require_POST
def alert_silence(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert, pk=pk)
    form = SilenceForm(request.POST)
    if form.is_valid():
        until = form.until()
        alerting.silence(alert, until)
        messages.success(request, f"Silenced until {until:%Y-%m-%d %H:%M %Z}: {alert}.")
    else:
        messages.error(request, "Choose how long to silence the alert for.")
    return back_to(request, alert.get_absolute_url())


@requires("monitor.add_alertrule")
def rule_create(request: HttpRequest) -> HttpResponse:
    return _rule_form(request, None)


@requires("monitor.change_alertrule")
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _rule_form(request, get_object_or_404(AlertRule, pk=pk))


def _rule_form(request: HttpRequest, rule: AlertRule | None) -> HttpResponse:
    form = AlertRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        rule = form.save()
        messages.success(request, f"Saved rule: {rule}.")
        return redirect("alert-list")
    return render(request, "monitor/rule_form.html", {"form": form, "rule": rule})
