"""Register an endpoint from the command line, validated exactly as the web form is."""

from django.core.management.base import BaseCommand

from monitor.forms import EndpointForm
from monitor.management.cli import endpoint_named, form_problems, prompt_set_named
from monitor.services.seeding import DEFAULT_PROMPT_SET_NAME, default_prompt_set


class Command(BaseCommand):
    help = "Register an OpenAI-compatible endpoint to be sampled on a schedule."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--base-url", required=True, help="e.g. http://vllm:8000/v1")
        parser.add_argument("--model", required=True, help="The model id sent in requests.")
        parser.add_argument("--family", required=True, help="Model family, for comparisons.")
        parser.add_argument("--version-label", default="")
        parser.add_argument("--kind", default="chat", choices=["chat", "completions"])
        parser.add_argument("--api-key-env", default="", help="Variable holding the API key.")
        parser.add_argument("--prompt-set", default=DEFAULT_PROMPT_SET_NAME)
        parser.add_argument("--samples", type=int, default=5, help="Samples per prompt.")
        parser.add_argument("--interval", type=int, default=24 * 60, help="Minutes between runs.")
        parser.add_argument("--temperature", type=float, default=1.0)
        parser.add_argument("--max-tokens", type=int, default=256)
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument("--timeout", type=float, default=60.0)
        parser.add_argument(
            "--baseline-endpoint",
            default="",
            help="Name of the endpoint (another version) this one is judged against.",
        )

    def handle(self, *args, **options) -> None:
        if options["prompt_set"] == DEFAULT_PROMPT_SET_NAME:
            prompt_set = default_prompt_set()
        else:
            prompt_set = prompt_set_named(options["prompt_set"])
        baseline = None
        if options["baseline_endpoint"]:
            baseline = endpoint_named(options["baseline_endpoint"])
        form = EndpointForm(
            data={
                "name": options["name"],
                "model_family": options["family"],
                "version_label": options["version_label"],
                "provider_kind": options["kind"],
                "base_url": options["base_url"],
                "model": options["model"],
                "api_key_env": options["api_key_env"],
                "prompt_set": prompt_set.pk,
                "baseline_endpoint": baseline.pk if baseline else "",
                "samples_per_prompt": options["samples"],
                "interval_minutes": options["interval"],
                "temperature": options["temperature"],
                "top_p": 1.0,
                "max_tokens": options["max_tokens"],
                "extra_params": "{}",
                "concurrency": options["concurrency"],
                "timeout_seconds": options["timeout"],
                "enabled": True,
            }
        )
        if not form.is_valid():
            raise form_problems(form)
        endpoint = form.save()
        self.stdout.write(
            f"Registered {endpoint.name} (id {endpoint.pk}); first run within a minute."
        )
