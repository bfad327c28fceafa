"""Serve the fake OpenAI-compatible model by hand, with faults: for trying Tailwatch out."""

from django.core.management.base import BaseCommand

from monitor.fake_llm import FakeBehaviour, FakeLLMServer, NSupport


class Command(BaseCommand):
    help = "Serve a fake OpenAI-compatible model at http://HOST:PORT/v1 with optional faults."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--latency", type=float, default=0.0, help="Seconds per reply.")
        parser.add_argument("--error-rate", type=float, default=0.0, help="Share of errors.")
        parser.add_argument("--error-status", type=int, default=500, help="Their HTTP status.")
        parser.add_argument("--malformed-rate", type=float, default=0.0, help="Share of bad JSON.")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--n-support",
            choices=[choice.value for choice in NSupport],
            default=NSupport.HONOUR.value,
            help="What a request for n choices gets: n choices, one choice, or a 400.",
        )

    def handle(self, *args, **options) -> None:
        behaviour = FakeBehaviour(
            latency=options["latency"],
            error_rate=options["error_rate"],
            error_status=options["error_status"],
            malformed_rate=options["malformed_rate"],
            seed=options["seed"],
            n_support=NSupport(options["n_support"]),
        )
        server = FakeLLMServer(behaviour, options["host"], options["port"], verbose=True)
        self.stdout.write(f"Fake model at {server.url} (model id: anything). Ctrl-C stops it.")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
