"""List prompt sets, and import a file as a new set or as the next version of an existing one."""

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError

from monitor.forms import PromptSetUploadForm
from monitor.management.cli import form_problems
from monitor.selectors.prompt_sets import prompt_sets_with_counts
from monitor.services import prompts


class Command(BaseCommand):
    help = (
        "Prompt sets: list them, or import a JSONL or CSV file (the format of the upload on "
        "the prompt-sets page) as a new set or as the next version of the set it names."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser("list", help="Every prompt set with its newest version.")
        upload = actions.add_parser(
            "import", help="Store a file as the next version of a set (created if new)."
        )
        upload.add_argument("name", help="The set's name; a new name creates a set.")
        upload.add_argument("file", type=Path, help="A .jsonl or .csv file.")
        upload.add_argument("--description", default="", help="For a new set: what it probes.")

    def handle(self, *args, **options) -> None:
        if options["action"] == "list":
            self._list()
        else:
            self._import(options["name"], options["file"], options["description"])

    def _list(self) -> None:
        self.stdout.write("name\tlatest_version\tprompts\tendpoints")
        for prompt_set in prompt_sets_with_counts():
            latest = prompt_set.latest_version
            prompt_count = latest.prompts.count() if latest else 0
            self.stdout.write(
                f"{prompt_set.name}\t{latest.number if latest else '-'}\t{prompt_count}\t"
                f"{prompt_set.endpoint_count}"
            )

    def _import(self, name: str, path: Path, description: str) -> None:
        try:
            with path.open("rb") as file:
                data = file.read(prompts.MAX_UPLOAD_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        form = PromptSetUploadForm(
            data={"name": name, "description": description},
            files={"file": SimpleUploadedFile(path.name, data)},
        )
        if not form.is_valid():
            raise form_problems(form)
        try:
            version = prompts.import_prompt_file(name, path.name, data, description)
        except prompts.PromptImportError as exc:
            lines = "\n".join(f"  {error}" for error in exc.errors)
            raise CommandError(
                f"nothing was imported, {len(exc.errors)} problem(s):\n{lines}"
            ) from None
        self.stdout.write(f"Imported {version} ({version.prompts.count()} prompts).")
