"""Score a JSONL file of outputs from the command line, optionally against a baseline run.

    python -m evaluators OUTPUTS.jsonl [--against BASE.jsonl [--fail-on-regression]]
                                       [--json] [--no-embeddings]

Each line is a JSON object ``{"prompt_id", "text"}``, plus ``"gold": [aliases]`` and
``"popularity": number`` for factual probes. Malformed input exits with status 2 and names
the offending line. With ``--fail-on-regression`` the run is judged by the alert policy the
dashboard's default rules apply (:mod:`evaluators.policy`): exit status 1 names the regressed
metrics, 0 means none regressed.
"""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from evaluators.comparison import ALPHA, MetricComparison, compare
from evaluators.embedding import SentenceTransformerEncoder
from evaluators.policy import DEFAULT_POLICY, change_in_words
from evaluators.report import Batch, Report, score


class InputError(Exception):
    """A malformed input file; the message names the file and line."""


def read_batch(path: Path) -> Batch:
    """Parse a JSONL file of outputs into a :class:`Batch`."""
    rows = []
    try:
        # Undecodable bytes become U+FFFD: the metrics define results for them.
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("expected a JSON object")
            Batch.from_rows([row])
        except ValueError as error:
            raise InputError(f"{path}, line {number}: {_reason(error)}") from error
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no outputs")
    try:
        return Batch.from_rows(rows)
    except ValueError as error:
        raise InputError(f"{path}: {error}") from error


def _reason(error: ValueError) -> str:
    # Single-row validation messages start with "row 0: "; the caller names the line instead.
    return str(error).removeprefix("row 0: ")


def _interval(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"[{low:.4f}, {high:.4f}]"


def format_table(
    report: Report, comparison: dict[str, MetricComparison] | None, alpha: float = ALPHA
) -> str:
    """A plain-text table of metrics, intervals and, with a comparison, deltas and p-values."""
    header = f"{'metric':<28}{'value':>10}  {'95% CI':<22}{'n':>6}"
    if comparison is not None:
        header += f"{'baseline':>11}{'delta':>11}{'p':>8}  "
    lines = [header, "-" * len(header)]
    for key, metric in report.metrics.items():
        interval = _interval(metric.ci_low, metric.ci_high)
        line = f"{key:<28}{metric.value:>10.4f}  {interval:<22}{metric.n:>6}"
        if comparison is not None and key in comparison:
            change = comparison[key]
            flag = " *" if change.significant else ""
            line += f"{change.baseline:>11.4f}{change.delta:>+11.4f}{change.p_value:>8.3f}{flag}"
        lines.append(line)
    if comparison is not None:
        lines.append(
            f"* significant at {alpha:.0%}, Holm-adjusted across the {len(comparison)} metrics "
            "compared (prompt permutation test)"
        )
    return "\n".join(lines)


def format_verdict(regressed: list[str], comparison: dict[str, MetricComparison]) -> str:
    """The gate's verdict: each regressed metric with its change and p-value, or none."""
    policy = DEFAULT_POLICY
    rule = (
        f"Holm across {len(comparison)} watched metrics at {policy.alpha:g}, "
        f"worse by more than {policy.noise_floor:g} baseline standard errors"
    )
    if not regressed:
        return f"no regression ({rule})"
    changes = []
    for key in regressed:
        result = comparison[key]
        change = change_in_words(result.candidate, result.baseline, key)
        changes.append(f"{key} {change} (p = {result.p_value:.3g})")
    return f"regression: {'; '.join(changes)} ({rule})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluators", description=__doc__.splitlines()[0]
    )
    parser.add_argument("outputs", type=Path, help="JSONL file of outputs to score")
    parser.add_argument("--against", type=Path, help="JSONL file of a baseline run to compare with")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--no-embeddings", action="store_true", help="skip the embedding metrics")
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="with --against: exit 1 when the alert policy finds a regression, naming it",
    )
    args = parser.parse_args(argv)
    if args.fail_on_regression and not args.against:
        parser.error("--fail-on-regression needs --against")
    try:
        candidate = read_batch(args.outputs)
        baseline = read_batch(args.against) if args.against else None
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    embed = not args.no_embeddings
    if embed:
        # Embed each run once; scoring and comparing then share the rows.
        encoder = SentenceTransformerEncoder()
        candidate = replace(candidate, embeddings=encoder.encode(candidate.texts))
        if baseline:
            baseline = replace(baseline, embeddings=encoder.encode(baseline.texts))
    # The blandness index and the length-matched metrics of the run are measured against the
    # baseline, as the comparison's are, so value, baseline and delta rest on one reference.
    report = score(candidate, baseline=baseline, embed=embed)
    comparison, regressed = None, None
    if args.fail_on_regression:
        # One test, one set of p-values: the gate's, over the metrics the policy watches.
        comparison = DEFAULT_POLICY.compare(baseline, candidate, embed=embed)
        regressed = DEFAULT_POLICY.regressed(comparison)
    elif baseline:
        comparison = compare(baseline, candidate, embed=embed)
    if args.json:
        document: dict[str, Any] = report.to_dict()
        if comparison is not None:
            document["comparison"] = {key: vars(value) for key, value in comparison.items()}
        if regressed is not None:
            document["regressed"] = regressed
        print(json.dumps(document, indent=2, allow_nan=False))
    else:
        alpha = DEFAULT_POLICY.alpha if regressed is not None else ALPHA
        print(format_table(report, comparison, alpha))
        if regressed is not None:
            print(format_verdict(regressed, comparison))
    return 1 if regressed else 0


if __name__ == "__main__":
    sys.exit(main())
