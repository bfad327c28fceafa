"""Export samples as JSON lines and metric series as CSV, streamed to stdout or a file."""

import csv
import json
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evaluators import METRIC_KEYS
from monitor.management.cli import endpoint_named, moment
from monitor.models import Run
from monitor.selectors.export import POINT_FIELDS, points_to_export, samples_to_export


def _range_options(parser) -> None:
    parser.add_argument("--since", type=moment, help="From this time on (ISO 8601), inclusive.")
    parser.add_argument("--until", type=moment, help="Before this time (ISO 8601).")
    parser.add_argument("--output", type=Path, help="Write to this file instead of stdout.")


class Command(BaseCommand):
    help = (
        "Export samples (JSON lines: the model's outputs and errors, one object a sample) or "
        "an endpoint's metric series (CSV: one row a point, with its 95% interval)."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="WHAT")
        samples = actions.add_parser("samples", help="Samples as JSON lines.")
        samples.add_argument("--endpoint", help="Only this endpoint's samples.")
        samples.add_argument("--run", type=int, help="Only this run's samples.")
        _range_options(samples)
        series = actions.add_parser("series", help="An endpoint's metric points as CSV.")
        series.add_argument("--endpoint", required=True)
        series.add_argument(
            "--metric",
            action="append",
            choices=METRIC_KEYS,
            help="Only this metric (repeat for more); default: every metric.",
        )
        _range_options(series)

    def handle(self, *args, **options) -> None:
        if options["since"] and options["until"] and options["since"] >= options["until"]:
            raise CommandError("--since must be before --until")
        endpoint = endpoint_named(options["endpoint"]) if options["endpoint"] else None
        span = {"since": options["since"], "until": options["until"]}
        with self._output(options["output"]) as out:
            if options["action"] == "samples":
                run = None
                if options["run"] is not None:
                    run = Run.objects.filter(pk=options["run"]).first()
                    if run is None:
                        raise CommandError(f"no run with id {options['run']}")
                for row in samples_to_export(endpoint, run, **span):
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(POINT_FIELDS)
                writer.writerows(points_to_export(endpoint, options["metric"], **span))

    @contextmanager
    def _output(self, path: Path | None):
        if path is None:
            yield self.stdout
            return
        try:
            file = path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror}") from None
        with file:
            yield file
