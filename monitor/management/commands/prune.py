"""Delete old raw data: sample texts and metric points past their retention."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from monitor.models import Endpoint, MetricPoint, Sample
from monitor.services import rollups


class Command(BaseCommand):
    help = (
        "Delete samples older than TAILWATCH_SAMPLE_RETENTION_DAYS and metric points older than "
        "TAILWATCH_POINT_RETENTION_DAYS (0 keeps them forever). Runs and alerts are kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--sample-days", type=int, default=settings.TAILWATCH_SAMPLE_RETENTION_DAYS
        )
        parser.add_argument(
            "--point-days", type=int, default=settings.TAILWATCH_POINT_RETENTION_DAYS
        )

    def handle(self, *args, **options) -> None:
        now = timezone.now()
        pinned = Endpoint.objects.filter(baseline_run__isnull=False).values("baseline_run")
        # The first good run of each endpoint starts its blandness scale; later runs are
        # measured from its outputs.
        scales = [
            run.pk
            for endpoint in Endpoint.objects.all()
            if (run := endpoint.runs.good().order_by("created_at").first()) is not None
        ]
        old_data = {
            "samples": (
                options["sample_days"],
                # A pinned baseline's samples are what later runs are tested against, and a
                # scale's first run's what they are measured from.
                lambda cutoff: (
                    Sample.objects.filter(created_at__lt=cutoff)
                    .exclude(run__in=pinned)
                    .exclude(run__in=scales)
                    .delete()[0]
                ),
            ),
            "metric points": (
                options["point_days"],
                # The charts' roll-ups of the pruned hours and days are kept equal to the points.
                lambda cutoff: rollups.delete_points(MetricPoint.objects.filter(time__lt=cutoff)),
            ),
        }
        for label, (days, delete_older_than) in old_data.items():
            if days <= 0:
                self.stdout.write(f"Keeping all {label}.")
                continue
            deleted = delete_older_than(now - timedelta(days=days))
            self.stdout.write(f"Deleted {deleted} {label} older than {days} days.")
