"""List endpoints, change their settings (baseline, schedule, …), pause and resume them."""

from django.core.management.base import BaseCommand, CommandError

from monitor.forms import EndpointForm
from monitor.management.cli import endpoint_named, prompt_set_named, save_with_form
from monitor.models import Endpoint, ProviderKind
from monitor.services import endpoints

# Option of `endpoints set` → field of the endpoint form.
SETTABLE = {
    "rename": "name",
    "family": "model_family",
    "version_label": "version_label",
    "kind": "provider_kind",
    "base_url": "base_url",
    "model": "model",
    "api_key_env": "api_key_env",
    "samples": "samples_per_prompt",
    "interval": "interval_minutes",
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max_tokens",
    "extra_params": "extra_params",
    "concurrency": "concurrency",
    "timeout": "timeout_seconds",
}


class Command(BaseCommand):
    help = (
        "Endpoints: list them, change their settings (validated as the edit page is), "
        "pause and resume their schedules. Register one with add_endpoint."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser("list", help="Every endpoint with its schedule and baseline.")
        for name, verb in (("pause", "Stop sampling"), ("resume", "Resume sampling")):
            action = actions.add_parser(name, help=f"{verb} the endpoint on its schedule.")
            action.add_argument("name")
        change = actions.add_parser(
            "set", help="Change an endpoint's settings; the others keep their values."
        )
        change.add_argument("name")
        change.add_argument("--rename", help="A new name.")
        change.add_argument("--family", help="Model family, for comparisons.")
        change.add_argument("--version-label")
        change.add_argument("--kind", choices=ProviderKind.values)
        change.add_argument("--base-url", help="e.g. http://vllm:8000/v1")
        change.add_argument("--model", help="The model id sent in requests.")
        change.add_argument("--api-key-env", help="Variable holding the API key.")
        change.add_argument(
            "--clear-api-key", action="store_true", help="Remove the stored API key."
        )
        change.add_argument("--prompt-set", help="Name of the prompt set runs use.")
        change.add_argument(
            "--baseline-endpoint",
            help="Name of the endpoint this one is judged against; '' for its own history.",
        )
        change.add_argument("--samples", type=int, help="Samples per prompt.")
        change.add_argument("--interval", type=int, help="Minutes between runs.")
        change.add_argument("--temperature", type=float)
        change.add_argument("--top-p", type=float)
        change.add_argument("--max-tokens", type=int)
        change.add_argument("--extra-params", help="A JSON object merged into every request.")
        change.add_argument("--concurrency", type=int, help="Requests in flight at once.")
        change.add_argument("--timeout", type=float, help="Seconds per request.")

    def handle(self, *args, **options) -> None:
        if options["action"] == "list":
            self._list()
            return
        endpoint = endpoint_named(options["name"])
        if options["action"] == "set":
            self._set(endpoint, options)
        else:
            self._pause_or_resume(endpoint, paused=options["action"] == "pause")

    def _list(self) -> None:
        rows = Endpoint.objects.select_related("prompt_set", "baseline_endpoint")
        self.stdout.write("name\tfamily\tversion\tstate\tinterval_min\tbaseline\tprompt_set")
        for endpoint in rows:
            baseline = endpoint.baseline_endpoint.name if endpoint.baseline_endpoint else "-"
            state = "active" if endpoint.enabled else "paused"
            self.stdout.write(
                f"{endpoint.name}\t{endpoint.model_family}\t{endpoint.version_label or '-'}\t"
                f"{state}\t{endpoint.interval_minutes}\t{baseline}\t{endpoint.prompt_set}"
            )

    def _set(self, endpoint: Endpoint, options: dict) -> None:
        changes = {
            field: options[option]
            for option, field in SETTABLE.items()
            if options[option] is not None
        }
        if options["clear_api_key"]:
            changes["clear_api_key"] = True
        if options["prompt_set"] is not None:
            changes["prompt_set"] = prompt_set_named(options["prompt_set"]).pk
        if options["baseline_endpoint"] is not None:
            name = options["baseline_endpoint"]
            changes["baseline_endpoint"] = endpoint_named(name).pk if name else None
        if not changes:
            raise CommandError("nothing to change: give at least one option (see --help)")
        endpoint = save_with_form(EndpointForm, endpoint, changes)
        self.stdout.write(f"Saved {endpoint.name}.")

    def _pause_or_resume(self, endpoint: Endpoint, paused: bool) -> None:
        if endpoint.enabled == paused:
            endpoints.toggle_enabled(endpoint)
        self.stdout.write(f"{endpoint.name} is {'paused' if paused else 'active'}.")
