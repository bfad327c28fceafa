"""First-start setup for `make up`: a login for the local user and, with the collapse lab on
(`make up` turns it on), the lab's endpoints on an empty database."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from monitor.models import Endpoint
from monitor.services.seeding import grant_lab_access, seed_lab_endpoints

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = (
        "Create the local login (printed) and, with the collapse lab on "
        "(TAILWATCH_LAB_ENABLED), the lab's endpoints on an empty database."
    )

    def handle(self, *args, **options) -> None:
        password_file = settings.VAR_DIR / "admin-password"
        users = get_user_model().objects
        if not users.exists():
            password = secrets.token_urlsafe(12)
            users.create_superuser(ADMIN_USERNAME, "", password)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        if settings.TAILWATCH_LAB_ENABLED:
            self._seed_lab()
        else:
            self.stdout.write(
                "The collapse lab is off (TAILWATCH_LAB_ENABLED): no demo endpoints seeded."
            )
        self.stdout.write(f"\nTailwatch: open {settings.SITE_URL}/")
        if password_file.exists():
            self.stdout.write(
                f"Log in as '{ADMIN_USERNAME}' with password "
                f"{password_file.read_text().strip()}  (kept in {password_file})\n"
            )

    def _seed_lab(self) -> None:
        if not Endpoint.objects.exists():
            self.stdout.write(
                "Seeding the demo on this empty database: training the collapse lab and "
                "backfilling the drifting endpoint's history, a few minutes before the web "
                "server starts."
            )
        endpoints = seed_lab_endpoints()
        if endpoints:
            self.stdout.write(
                f"Seeded the collapse lab: {len(endpoints)} endpoints, from "
                f"{endpoints[0].name} to {endpoints[-1].name}; their first runs start within "
                "a minute."
            )
        # Endpoints seeded before the lab took a token, or since it changed, are given it.
        grant_lab_access()
