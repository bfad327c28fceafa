"""What a corpus would do to the tails: reading it line by line, the evaluators' warning signs
of a sample of it against a reference corpus, the reference's rare words it lacks, and shares
with their confidence intervals.

A corpus is JSONL with a ``text`` field, or plain text with one document a line; which one is
told by its first non-blank line. It is streamed, never loaded whole: the warning signs are
measured on a uniform sample of its documents (reservoir sampling).
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from evaluators import METRICS, Batch, PromptOutputs, compare
from evaluators.report import batch_features, metric_values
from evaluators.vocabulary import RARE_ZIPF, zipf

# The diversity and tail metrics that mean something for a pile of documents (no probes, no
# embeddings): word variety, repetition, compressibility and the rare-word tail.
CORPUS_METRICS = (
    "distinct_1",
    "distinct_2",
    "rep_4",
    "tail_vocabulary",
    "tail_types",
    "types_per_1k",
    "mean_zipf",
)
# Documents per pseudo-prompt: the permutation test exchanges groups of documents, and the
# within-group metrics need more than one text.
GROUP_SIZE = 10
Z_95 = 1.959964
# The bytes of an over-long line read at a time while skipping it.
SKIPPED_BYTES = 1 << 20


@dataclass(frozen=True)
class Line:
    """One line of a corpus file: its number (from 1), the raw bytes, and the document's text,
    or why it is not a document."""

    number: int
    raw: bytes
    text: str | None
    error: str = ""


def read_lines(stream: BinaryIO, max_line_bytes: int) -> Iterator[Line]:
    """Every non-blank line of a corpus, as a document or as a malformed line. A line longer
    than ``max_line_bytes`` is malformed, and read past without being held."""
    jsonl = None
    for number, raw in enumerate(_raw_lines(stream, max_line_bytes), start=1):
        if raw is None:
            yield Line(number, b"", None, f"longer than {max_line_bytes} bytes")
            continue
        try:
            decoded = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            yield Line(number, raw, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            continue
        if not decoded:
            continue
        if jsonl is None:
            jsonl = decoded.startswith("{")
        yield _parse(number, raw, decoded) if jsonl else Line(number, raw, decoded)


def _raw_lines(stream: BinaryIO, max_line_bytes: int) -> Iterator[bytes | None]:
    """The lines of ``stream`` as read, None for one longer than ``max_line_bytes`` (its
    newline not counted)."""
    while raw := stream.readline(max_line_bytes + 1):
        if len(raw) <= max_line_bytes or raw.endswith(b"\n"):
            yield raw
            continue
        while (rest := stream.readline(SKIPPED_BYTES)) and not rest.endswith(b"\n"):
            pass
        yield None


def _parse(number: int, raw: bytes, decoded: str) -> Line:
    try:
        record = json.loads(decoded)
    except json.JSONDecodeError as exc:
        return Line(number, raw, None, f"not JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return Line(number, raw, None, "not JSON: nested too deeply")
    if not isinstance(record, dict):
        return Line(number, raw, None, "not a JSON object")
    text = record.get("text")
    if not isinstance(text, str):
        return Line(number, raw, None, 'no "text" string field')
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # An escaped lone surrogate (\ud800) decodes to a string no file or database takes.
        return Line(number, raw, None, '"text" holds a lone surrogate')
    return Line(number, raw, text)


def wilson(count: int, total: int) -> dict[str, float | int | None]:
    """``count`` of ``total`` as a share with its 95% Wilson score interval."""
    if total == 0:
        return {"count": count, "share": None, "ci_low": None, "ci_high": None}
    share = count / total
    denominator = 1 + Z_95**2 / total
    centre = (share + Z_95**2 / (2 * total)) / denominator
    spread = Z_95 * math.sqrt(share * (1 - share) / total + Z_95**2 / (4 * total**2))
    spread /= denominator
    return {
        "count": count,
        "share": share,
        "ci_low": max(0.0, centre - spread),
        "ci_high": min(1.0, centre + spread),
    }


@dataclass
class Reservoir:
    """A uniform sample of ``size`` texts from a stream of unknown length (algorithm R)."""

    size: int
    seed: int = 0
    seen: int = 0
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def offer(self, text: str) -> None:
        self.seen += 1
        if len(self.texts) < self.size:
            self.texts.append(text)
            return
        slot = self._random.randrange(self.seen)
        if slot < self.size:
            self.texts[slot] = text


def is_rare(word: str) -> bool:
    return word.isalpha() and zipf(word) < RARE_ZIPF


@dataclass
class ReferenceProfile:
    """What a scan needs of the reference corpus: a sample for the warning signs and how often
    each rare word occurs in it."""

    sample: list[str]
    rare_words: Counter
    documents: int


def profile_reference(lines: Iterable[Line], sample_size: int, words) -> ReferenceProfile:
    """Stream the reference corpus once; ``words`` splits a text into words."""
    reservoir = Reservoir(sample_size)
    rare: Counter = Counter()
    for line in lines:
        if line.text is None:
            continue
        reservoir.offer(line.text)
        rare.update(word for word in set(words(line.text)) if is_rare(word))
    return ReferenceProfile(reservoir.texts, rare, reservoir.seen)


def missing_rare_words(profile: ReferenceProfile, seen: set[str], limit: int = 50) -> dict:
    """The reference's rare words the candidate never uses, most common in the reference
    first, with how many documents of the reference hold each."""
    missing = [(word, n) for word, n in profile.rare_words.most_common() if word not in seen]
    return {
        "reference_rare_words": len(profile.rare_words),
        "missing": len(missing),
        "share_missing": len(missing) / len(profile.rare_words) if profile.rare_words else None,
        "top": [{"word": word, "reference_documents": n} for word, n in missing[:limit]],
    }


def _batch(texts: list[str]) -> Batch | None:
    groups = [texts[i : i + GROUP_SIZE] for i in range(0, len(texts), GROUP_SIZE)]
    groups = [group for group in groups if len(group) > 1]
    if len(groups) < 2:
        return None
    return Batch(tuple(PromptOutputs(str(i), tuple(g)) for i, g in enumerate(groups)))


def warning_signs(candidate: list[str], reference: list[str] | None) -> dict:
    """The corpus metrics of the candidate sample, and with a reference sample the
    permutation test of each (candidate - reference, Holm-adjusted p-values)."""
    candidate_batch = _batch(candidate)
    if candidate_batch is None:
        return {"error": "too few documents to measure", "metrics": []}
    reference_batch = _batch(reference) if reference else None
    if reference_batch is None:
        # Without a reference there is nothing to test against: the values alone, measured
        # on this sample only (score() would measure every metric, embeddings aside).
        features = batch_features([candidate_batch], None, None, False, CORPUS_METRICS)
        whole = np.ones((1, features.n_prompts), dtype=bool)
        values = metric_values(features, whole, CORPUS_METRICS)
        rows = [_row(key, candidate=float(values[key][0])) for key in CORPUS_METRICS]
        return {"compared": False, "sample": len(candidate), "metrics": rows}
    tested = compare(reference_batch, candidate_batch, metrics=CORPUS_METRICS, embed=False)
    rows = [
        _row(
            key,
            candidate=result.candidate,
            reference=result.baseline,
            delta=result.delta,
            p_value=result.p_value,
            significant=result.significant,
            worse=result.significant and (result.delta > 0) == METRICS[key].higher_is_worse,
        )
        for key, result in tested.items()
    ]
    return {
        "compared": True,
        "sample": len(candidate),
        "reference_sample": len(reference),
        "metrics": rows,
    }


def _row(key: str, **values) -> dict:
    metric = METRICS[key]
    return {"key": key, "label": metric.label, "higher_is_worse": metric.higher_is_worse, **values}
