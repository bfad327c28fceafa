"""The release gate for CI: the verdict on an endpoint's run, waiting for it if asked.
Exit status: 0 pass, 1 regression, 2 error (no such endpoint, the run failed, or no verdict
within the timeout)."""

import math
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitor.models import Endpoint, Run
from monitor.selectors.verdict import FAIL, PASS, PENDING, Verdict, run_verdict
from monitor.services import sampling

EXIT_CODES = {PASS: 0, FAIL: 1}
ERROR_EXIT = 2


class Command(BaseCommand):
    help = (
        "Say whether an endpoint's run passes the alert rules (against its baseline endpoint): "
        "exit 0 on pass, 1 on regression, 2 on error or no verdict in time."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--endpoint", required=True, help="The endpoint's name.")
        parser.add_argument(
            "--trigger", action="store_true", help="Start a run now and judge that run."
        )
        parser.add_argument(
            "--wait", action="store_true", help="Wait while the run is sampled, scored, judged."
        )
        parser.add_argument(
            "--timeout", type=float, default=3600.0, help="Seconds to wait at most (3600)."
        )
        parser.add_argument(
            "--poll", type=float, default=5.0, help="Seconds between looks at the run (5)."
        )

    def handle(self, *args, **options) -> None:
        # float() reads "nan" and "inf" too: neither is a time to wait.
        if not (math.isfinite(options["poll"]) and options["poll"] > 0):
            raise CommandError("--poll must be a number of seconds over 0", returncode=ERROR_EXIT)
        if not (math.isfinite(options["timeout"]) and options["timeout"] >= 0):
            raise CommandError("--timeout must be 0 seconds or more", returncode=ERROR_EXIT)
        endpoint = Endpoint.objects.filter(name=options["endpoint"]).first()
        if endpoint is None:
            raise CommandError(f"no endpoint named {options['endpoint']!r}", returncode=ERROR_EXIT)
        run = self._run_to_judge(endpoint, options["trigger"])
        verdict = run_verdict(run)
        self.stdout.write(f"run {run.pk} of {endpoint.name}: {self._progress(verdict)}")
        if options["wait"]:
            verdict = self._wait(run, verdict, options["timeout"], options["poll"])
        self._report(verdict)
        if verdict.state == PENDING:
            raise CommandError(
                f"no verdict yet on run {run.pk}: {verdict.reason}", returncode=ERROR_EXIT
            )
        sys.exit(EXIT_CODES.get(verdict.state, ERROR_EXIT))

    def _run_to_judge(self, endpoint: Endpoint, trigger: bool) -> Run:
        if trigger:
            try:
                return sampling.start_run(endpoint)
            except sampling.RunNotStartedError as exc:
                raise CommandError(str(exc), returncode=ERROR_EXIT) from None
        run = endpoint.last_run
        if run is None:
            raise CommandError(
                f"{endpoint.name} has no run yet: use --trigger", returncode=ERROR_EXIT
            )
        return run

    def _wait(self, run: Run, verdict: Verdict, timeout: float, poll: float) -> Verdict:
        """Look at the run every ``poll`` seconds until it has a verdict or ``timeout`` passes,
        printing each change of its progress."""
        deadline = time.monotonic() + timeout
        said = self._progress(verdict)
        while verdict.state == PENDING and time.monotonic() < deadline:
            time.sleep(max(0.0, min(poll, deadline - time.monotonic())))
            run.refresh_from_db()
            verdict = run_verdict(run)
            progress = self._progress(verdict)
            if progress != said:
                self.stdout.write(f"run {run.pk}: {progress}")
                said = progress
        return verdict

    @staticmethod
    def _progress(verdict: Verdict) -> str:
        run = verdict.run
        if verdict.state == PENDING and run.is_active:
            return f"{verdict.reason} ({run.samples_done}/{run.samples_expected} samples)"
        return f"{verdict.state}: {verdict.reason}"

    def _report(self, verdict: Verdict) -> None:
        for finding in verdict.regressed:
            self.stdout.write(f"  REGRESSED [{finding.severity}] {finding.summary}")
        for finding in verdict.undecided:
            self.stdout.write(f"  undecided: {finding.rule_name}: {finding.summary}")
        for name, path in verdict.links.items():
            self.stdout.write(f"  {name}: {self._absolute(path)}")

    @staticmethod
    def _absolute(path: str) -> str:
        return settings.SITE_URL + path
