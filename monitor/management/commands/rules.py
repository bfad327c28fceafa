"""Alert rules: list, add, edit, disable and enable them."""

from django.core.management.base import BaseCommand, CommandError

from monitor.forms import AlertRuleForm
from monitor.management.cli import endpoint_named, save_with_form
from monitor.models import AlertRule, Channel, RuleKind, Severity
from monitor.selectors.alerts import alert_rules

# Option of `rules add` and `rules edit` → field of the rule form.
SETTABLE = {
    "name": "name",
    "family": "model_family",
    "kind": "kind",
    "metric": "metric",
    "severity": "severity",
    "threshold": "threshold",
    "change_percent": "change_percent",
    "noise_floor": "noise_floor",
    "p_value": "p_value",
    "window_runs": "window_runs",
    "consecutive_runs": "consecutive_runs",
    "reminder_hours": "reminder_hours",
}


def _rule_options(parser) -> None:
    parser.add_argument("--name", help="Defaults to a description.")
    parser.add_argument("--endpoint", help="Only this endpoint ('' for none: see --family).")
    parser.add_argument("--family", help="Every endpoint of this family ('' for all).")
    parser.add_argument("--kind", choices=RuleKind.values)
    parser.add_argument("--metric", help="An evaluators metric key; not for 'down'.")
    parser.add_argument("--severity", choices=Severity.values)
    parser.add_argument("--threshold", type=float, help="Threshold rules: the bound.")
    parser.add_argument("--change-percent", type=float)
    parser.add_argument("--noise-floor", type=float, help="Drop: standard errors of baseline.")
    parser.add_argument("--p-value", type=float)
    parser.add_argument("--window-runs", type=int, help="Creep: trend runs. Down: failed runs.")
    parser.add_argument("--consecutive-runs", type=int, help="Breaching runs before it fires.")
    parser.add_argument("--reminder-hours", type=int, help="0: never remind.")
    parser.add_argument(
        "--channels", help="Channel names separated by commas ('' for the default channels)."
    )


class Command(BaseCommand):
    help = (
        "Alert rules: list them, add or edit one (validated as the rule page is), disable or "
        "enable one. Rules are named by the id that 'rules list' shows."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listing = actions.add_parser("list", help="Every rule, or those that judge an endpoint.")
        listing.add_argument("--endpoint", help="Only the rules that apply to this endpoint.")
        _rule_options(actions.add_parser("add", help="Add a rule (give --kind)."))
        edit = actions.add_parser("edit", help="Change a rule; the others keep their values.")
        edit.add_argument("id", type=int)
        _rule_options(edit)
        for name in ("disable", "enable"):
            actions.add_parser(name, help=f"{name.capitalize()} a rule.").add_argument(
                "id", type=int
            )

    def handle(self, *args, **options) -> None:
        action = options["action"]
        if action == "list":
            self._list(options["endpoint"])
            return
        if action == "add":
            rule = AlertRule()
            if options["kind"] is None:
                raise CommandError("a new rule needs --kind")
        else:
            rule = AlertRule.objects.filter(pk=options["id"]).first()
            if rule is None:
                raise CommandError(f"no alert rule with id {options['id']}")
        changes = (
            {"enabled": action == "enable"}
            if action in {"disable", "enable"}
            else self._changes(options)
        )
        rule = save_with_form(AlertRuleForm, rule, changes)
        state = "enabled" if rule.enabled else "disabled"
        self.stdout.write(f"Saved rule {rule.pk} ({state}): {rule}.")

    def _changes(self, options: dict) -> dict:
        changes = {
            field: options[option]
            for option, field in SETTABLE.items()
            if options[option] is not None
        }
        if options["endpoint"] is not None:
            name = options["endpoint"]
            changes["endpoint"] = endpoint_named(name).pk if name else None
        if options["channels"] is not None:
            names = [name.strip() for name in options["channels"].split(",") if name.strip()]
            channels = dict(Channel.objects.filter(name__in=names).values_list("name", "pk"))
            unknown = [name for name in names if name not in channels]
            if unknown:
                raise CommandError(f"no channel named {', '.join(map(repr, unknown))}")
            changes["channels"] = list(channels.values())
        return changes

    def _list(self, endpoint_name: str | None) -> None:
        rules = alert_rules()
        if endpoint_name is not None:
            endpoint = endpoint_named(endpoint_name)
            rules = rules.filter(AlertRule.applying_to(endpoint))
        self.stdout.write("id\tenabled\tseverity\tscope\tchannels\trule")
        for rule in rules:
            scope = (
                f"endpoint {rule.endpoint.name}"
                if rule.endpoint
                else f"family {rule.model_family}"
                if rule.model_family
                else "all"
            )
            channels = ",".join(channel.name for channel in rule.channels.all()) or "defaults"
            self.stdout.write(
                f"{rule.pk}\t{'yes' if rule.enabled else 'no'}\t{rule.severity}\t{scope}\t"
                f"{channels}\t{rule}"
            )
