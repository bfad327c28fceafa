"""Score finished runs again, e.g. after an evaluator changed: their points are replaced."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from monitor.models import SCORABLE_RUN_STATUSES, Run
from monitor.moments import parse_moment
from monitor.services import alerting, scoring


def parse_since(value: str) -> datetime:
    try:
        return parse_moment(value, naive_zone=UTC, dates=True)
    except ValueError as exc:
        raise CommandError(f"--since: {exc}") from exc


class Command(BaseCommand):
    help = "Re-score succeeded and partial runs created since a date (all runs without --since)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", help="A date (2026-01-31) or date-time, in UTC if naive.")
        parser.add_argument("--endpoint", help="Only this endpoint (by name).")

    def handle(self, *args, **options) -> None:
        runs = Run.objects.filter(status__in=SCORABLE_RUN_STATUSES).order_by("created_at")
        if options["since"]:
            runs = runs.filter(created_at__gte=parse_since(options["since"]))
        if options["endpoint"]:
            runs = runs.filter(endpoint__name=options["endpoint"])
        run_ids = list(runs.values_list("pk", flat=True))
        failures = 0
        # Oldest first: a run's blandness index is measured from an earlier reference run.
        for run_id in tqdm(run_ids, desc="rescoring", unit="run", file=self.stderr):
            try:
                scoring.score_run(run_id, again=True)
                # A run never judged (its evaluation was given up) is judged now, in order.
                alerting.evaluate_run(run_id)
            except scoring.RunNotScorableError as exc:
                failures += 1
                self.stderr.write(f"run {run_id}: {exc}")
        self.stdout.write(f"Re-scored {len(run_ids) - failures} of {len(run_ids)} runs.")
