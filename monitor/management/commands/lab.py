"""The collapse lab on the command line: train generations and measure each one."""

import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from lab import MAX_GENERATION, Arm, Lab, LabConfig, evaluate, table_rows
from monitor.services.scoring import encoder
from monitor.services.served_lab import served_lab


class Command(BaseCommand):
    help = (
        "Collapse lab. 'run' trains generation 0..N of an arm (each on text sampled from the "
        "one before; cached under var/lab) and prints a table of the warning signs per "
        "generation."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        run = actions.add_parser("run", help="Train and measure a chain of generations.")
        run.add_argument("--generations", type=int, default=8, help="The last generation.")
        run.add_argument("--arm", choices=[*Arm, "all"], default="all")
        run.add_argument(
            "--seed", type=int, default=None, help="Another seed than the served lab's."
        )

    def handle(self, *args, **options) -> None:
        if not 0 <= options["generations"] <= MAX_GENERATION:
            raise CommandError(f"--generations must be between 0 and {MAX_GENERATION}")
        seed = options["seed"]
        lab = served_lab() if seed is None else Lab(LabConfig(seed=seed), settings.VAR_DIR / "lab")
        arms = list(Arm) if options["arm"] == "all" else [Arm(options["arm"])]
        for arm in arms:
            self._run(lab, arm, options["generations"])

    def _run(self, lab: Lab, arm: Arm, generations: int) -> None:
        started = time.perf_counter()
        # Embedding diversity is measured where runs are: with the embedding model, when it is on.
        writing_encoder = encoder() if settings.TAILWATCH_EMBEDDINGS else None
        reports = [
            evaluate(lab, arm, generation, writing_encoder)
            for generation, _ in tqdm(
                lab.chain(arm, generations),
                total=generations + 1,
                desc=f"{arm} arm",
                unit="generation",
                file=sys.stderr,
            )
        ]
        self.stdout.write(f"\n{arm} arm, seed {lab.config.seed}:\n")
        self.stdout.write("\n".join(table_rows(reports)))
        self.stdout.write(
            f"\n{len(lab.corpus.sentences)} sentences a generation; trained (or read from "
            f"{lab.cache_dir}) and measured in {time.perf_counter() - started:.1f} s\n"
        )
