"""Notification channels: list, add, remove, and send a test message through one."""

from django.core.management.base import BaseCommand, CommandError

from monitor.forms import ChannelForm
from monitor.management.cli import form_problems
from monitor.models import Channel, ChannelKind
from monitor.notifications import delivery


class Command(BaseCommand):
    help = (
        "Notification channels (email lists and webhooks): list, add (validated as the "
        "admin's channel page is), remove, and test."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser("list", help="Every channel.")
        add = actions.add_parser("add", help="Add a channel.")
        add.add_argument("name")
        add.add_argument("--kind", required=True, choices=ChannelKind.values)
        add.add_argument(
            "--target",
            required=True,
            help="Email: addresses separated by commas. Webhook: the URL to POST to.",
        )
        add.add_argument(
            "--not-default",
            action="store_true",
            help="Only rules that name this channel use it (default: every rule naming none).",
        )
        add.add_argument("--disabled", action="store_true", help="Add it switched off.")
        for name, text in (
            ("remove", "Remove a channel; rules that named only it fall back to the defaults."),
            ("test", "Queue a test message through a channel (a worker sends it)."),
        ):
            actions.add_parser(name, help=text).add_argument("name")

    def handle(self, *args, **options) -> None:
        action = options["action"]
        if action == "list":
            self._list()
        elif action == "add":
            self._add(options)
        else:
            channel = Channel.objects.filter(name=options["name"]).first()
            if channel is None:
                raise CommandError(f"no channel named {options['name']!r}")
            if action == "remove":
                channel.delete()
                self.stdout.write(f"Removed {channel.name}.")
            else:
                notification = delivery.send_test(channel)
                self.stdout.write(
                    f"Queued test notification {notification.pk} to {channel.name}; "
                    "its result shows in the admin's notifications."
                )

    def _list(self) -> None:
        self.stdout.write("name\tkind\tdefault\tenabled\ttarget")
        for channel in Channel.objects.all():
            self.stdout.write(
                f"{channel.name}\t{channel.kind}\t{'yes' if channel.is_default else 'no'}\t"
                f"{'yes' if channel.enabled else 'no'}\t{channel.target}"
            )

    def _add(self, options: dict) -> None:
        form = ChannelForm(
            data={
                "name": options["name"],
                "kind": options["kind"],
                "target": options["target"],
                "is_default": not options["not_default"],
                "enabled": not options["disabled"],
            }
        )
        if not form.is_valid():
            raise form_problems(form)
        channel = form.save()
        self.stdout.write(f"Added {channel.kind} channel {channel.name}.")
