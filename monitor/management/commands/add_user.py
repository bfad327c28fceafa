"""Give a user a role, creating the user (with a password, printed once) when new."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from monitor.services.roles import ROLES, assign_role


class Command(BaseCommand):
    help = "Create a user or change a user's role: " + "; ".join(
        f"{role.name}: {role.description}" for role in ROLES.values()
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=list(ROLES))
        parser.add_argument("--email", default="")

    def handle(self, *args, username: str, role: str, email: str, **options) -> None:
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = users.create_user(username, email, password)
            self.stdout.write(f"Created {username} with password {password}")
        assign_role(user, ROLES[role])
        self.stdout.write(f"{username}'s role is now {role}.")
