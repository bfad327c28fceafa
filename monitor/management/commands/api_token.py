"""Make, replace or revoke a user's REST API token. The token is printed once; only its hash
is stored."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from monitor.models import ApiToken


class Command(BaseCommand):
    help = (
        "Print a new API token for a user (it acts with the user's role), replace it "
        "(--rotate) or revoke it (--revoke)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True, help="The username.")
        change = parser.add_mutually_exclusive_group()
        change.add_argument(
            "--rotate", action="store_true", help="Replace the user's token with a new one."
        )
        change.add_argument("--revoke", action="store_true", help="Delete the user's token.")

    def handle(self, *args, **options) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user named {options['user']!r}")
        has_token = ApiToken.objects.filter(user=user).exists()
        if options["revoke"]:
            ApiToken.objects.filter(user=user).delete()
            self.stderr.write(f"{'Revoked' if has_token else 'No'} API token of {user}.")
            return
        if has_token and not options["rotate"]:
            raise CommandError(f"{user} has a token already: --rotate replaces it")
        # The token alone on stdout, so a script can capture it.
        self.stdout.write(ApiToken.issue(user))
