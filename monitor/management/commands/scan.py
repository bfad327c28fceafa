"""Scan a corpus for our models' outputs before it trains the next model: the report as text,
and as JSON with --json; the corpus without its flagged documents with --filtered."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from monitor.services import scans


def threshold(value: str) -> float:
    number = float(value)
    if not 0.05 <= number <= 1.0:
        raise ValueError(value)
    return number


def writable(name: str, path: Path) -> None:
    """Raise CommandError unless ``path`` can be written (an existing file is left as it is)."""
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise CommandError(f"--{name}: cannot write {path}: {exc.strerror}") from exc


class Command(BaseCommand):
    help = (
        "Scan CORPUS (JSONL with a text field, or one document a line) for near-copies of the "
        "stored model outputs, internal duplicates, and warning signs against a reference."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("corpus", type=Path)
        parser.add_argument("--reference", type=Path, help="A human corpus to compare with.")
        parser.add_argument(
            "--threshold", type=threshold, help="Jaccard similarity, 0.05 to 1 (default 0.8)."
        )
        parser.add_argument("--json", type=Path, help="Write the full report here.")
        parser.add_argument(
            "--filtered",
            type=Path,
            help="Write the corpus without flagged documents here, and the manifest of what "
            "was dropped and why beside it (FILTERED.manifest.jsonl).",
        )

    def handle(self, *args, **options) -> None:
        for name in ("corpus", "reference"):
            if options[name] is not None and not options[name].is_file():
                raise CommandError(f"{name}: no file {options[name]}")
        filtered = options["filtered"]
        manifest = filtered.with_name(filtered.name + ".manifest.jsonl") if filtered else None
        # Found out before the scan, not after it.
        for name, path in (
            ("json", options["json"]),
            ("filtered", filtered),
            ("filtered", manifest),
        ):
            if path is not None:
                writable(name, path)
        with tqdm(total=100, desc="scanning", unit="%", file=self.stderr) as bar:

            def progress(corpus_scan, share: float) -> None:
                bar.set_postfix(documents=corpus_scan.documents, copies=corpus_scan.matched)
                bar.update(round(100 * share) - bar.n)

            report = scans.scan_file(
                options["corpus"],
                options["reference"],
                options["threshold"],
                filtered,
                manifest,
                progress,
            )
            bar.update(100 - bar.n)
        if options["json"]:
            options["json"].write_text(json.dumps(report, indent=2))
        self.stdout.write(summary(report))


def summary(report: dict) -> str:
    def share(row: dict) -> str:
        if row["share"] is None:
            return "-"
        low, high = 100 * row["ci_low"], 100 * row["ci_high"]
        return f"{row['count']} ({100 * row['share']:.1f}%, 95% CI {low:.1f}-{high:.1f}%)"

    outputs = report["model_outputs"]
    lines = [
        f"documents: {report['documents']}, kept: {report['kept']}, "
        f"malformed lines: {report['malformed']['count']}",
        f"near-copies of model outputs: {share(outputs)}",
        *(
            f"  {row['endpoint']} ({row['model']} {row['version']}): {share(row)}"
            for row in outputs["by_endpoint"]
        ),
        f"exact duplicates: {share(report['duplicates']['exact'])}",
        f"near duplicates: {share(report['duplicates']['near'])}",
    ]
    for row in report["warning_signs"].get("metrics", []):
        if row.get("worse"):
            lines.append(f"worse than the reference: {row['label']} (p={row['p_value']:.2g})")
    return "\n".join(lines)
