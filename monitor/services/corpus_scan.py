"""The scan itself: one pass over a corpus that finds near-copies of stored model outputs and
the corpus's own exact and near duplicates, writes the filtered corpus and the manifest of what
was dropped and why, and samples documents for the warning signs.

No Django here beyond the loaded ``OutputIndex``: ``services/scans.py`` runs it for a ``Scan``
and ``manage.py scan`` for a file, and both name the endpoints in the result.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from monitor.services import provenance_index
from monitor.services.banding import BandedIndex
from monitor.services.corpus_signs import Line, ReferenceProfile, Reservoir, wilson
from monitor.services.provenance_index import NUM_PERM, OutputIndex

SAMPLE_SIZE = 1000
TOP_PAIRS = 20
LISTED_MALFORMED = 100
SHOWN_CHARACTERS = 2000
BLOCK = 4096  # rows of the corpus's own signatures allocated at a time
CHUNK = 256  # documents signed, then searched for together

MODEL_OUTPUT = "model output"
EXACT_DUPLICATE = "exact duplicate"
NEAR_DUPLICATE = "near duplicate"
MALFORMED = "malformed"


@dataclass
class Sinks:
    """Where the scan writes the filtered corpus (kept lines, as read) and the manifest (one
    JSON object per dropped line); either may be None."""

    filtered: IO[bytes] | None = None
    manifest: IO[str] | None = None

    def keep(self, line: Line) -> None:
        if self.filtered is not None:
            self.filtered.write(line.raw if line.raw.endswith(b"\n") else line.raw + b"\n")

    def drop(self, line: Line, reason: str, **detail) -> None:
        if self.manifest is not None:
            self.manifest.write(json.dumps({"line": line.number, "reason": reason, **detail}))
            self.manifest.write("\n")


@dataclass
class CorpusScan:
    """The running tallies of one scan; ``add_chunk`` the lines in order, then ``summary``."""

    index: OutputIndex
    threshold: float
    sinks: Sinks = field(default_factory=Sinks)
    reference: ReferenceProfile | None = None
    sample_size: int = SAMPLE_SIZE
    documents: int = 0
    matched: int = 0
    exact: int = 0
    near: int = 0
    malformed: int = 0
    # Documents left out of the filtered corpus, each for one reason (a copy of a model output
    # first, then a duplicate), so this is not the sum of the counts above.
    dropped: int = 0

    def __post_init__(self) -> None:
        if self.index.threshold != self.threshold:
            raise ValueError("the index is banded for another threshold")
        self.by_endpoint: Counter = Counter()
        self.pairs: list[tuple[float, int, dict]] = []
        self.malformed_lines: list[dict] = []
        self.reservoir = Reservoir(self.sample_size)
        self.rare_seen: set[str] = set()
        self._exact_digests: dict[int, int] = {}
        self._own = BandedIndex(self.threshold, NUM_PERM)
        # The low 16 bits of each value tell signatures apart as well as all 32 (a false
        # agreement once in 65,536) in half the memory a document, in blocks of rows.
        self._own_signatures: list[np.ndarray] = []
        self._own_lines: list[int] = []

    @property
    def duplicates(self) -> int:
        return self.exact + self.near

    def add_chunk(self, lines: list[Line]) -> None:
        """Scan ``lines`` in order. Their signatures are banded and searched for together: one
        search of the index and of the corpus so far instead of one a document."""
        signed = [(line, self._sign(line)) for line in lines]
        rows = [values for _, values in signed if values is not None]
        keys = self._own.band_keys(np.array(rows)) if rows else np.empty((0, 0), np.uint64)
        in_index = self.index.banded.query_sorted(keys)
        in_corpus = self._own.query_sorted(keys)
        row = 0
        for line, values in signed:
            if line.text is None:
                self._add_malformed(line)
            elif values is None:
                self._add_document(line, None, None, [], [])
            else:
                self._add_document(line, values, keys[row], in_index[row], in_corpus[row])
                row += 1
        self._own.merge_if_due()

    def _sign(self, line: Line) -> np.ndarray | None:
        if line.text is None:
            return None
        self.documents += 1
        self.reservoir.offer(line.text)
        tokens = provenance_index.words(line.text)
        if self.reference is not None:
            self.rare_seen.update(self.reference.rare_words.keys() & set(tokens))
        return provenance_index.signature(tokens)

    def _add_document(self, line: Line, values, keys, in_index, in_corpus) -> None:
        text = line.text.strip().encode()
        digest = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest())
        reason = self._match_output(line, values, in_index)
        if digest in self._exact_digests:
            self.exact += 1
            reason = reason or (EXACT_DUPLICATE, {"of_line": self._exact_digests[digest]})
        else:
            self._exact_digests[digest] = line.number
            reason = self._near_duplicate(line, values, keys, in_corpus, reason)
        if reason is None:
            self.sinks.keep(line)
        else:
            self.dropped += 1
            self.sinks.drop(line, reason[0], **reason[1])

    def _add_malformed(self, line: Line) -> None:
        self.malformed += 1
        if len(self.malformed_lines) < LISTED_MALFORMED:
            self.malformed_lines.append({"line": line.number, "error": line.error})
        self.sinks.drop(line, MALFORMED, error=line.error)

    def _match_output(self, line: Line, values, candidates) -> tuple[str, dict] | None:
        match = self.index.best_match(values, candidates) if values is not None else None
        if match is None:
            return None
        row, similarity = match
        self.matched += 1
        endpoint_id = int(self.index.endpoint_ids[row])
        sample_id = int(self.index.sample_ids[row])
        self.by_endpoint[endpoint_id] += 1
        pair = {
            "line": line.number,
            "document": line.text[:SHOWN_CHARACTERS],
            "sample_id": sample_id,
            "endpoint_id": endpoint_id,
            "similarity": round(similarity, 4),
        }
        # The most similar pairs are kept; of equal ones, the earliest lines.
        entry = (similarity, -line.number, pair)
        if len(self.pairs) < TOP_PAIRS:
            heapq.heappush(self.pairs, entry)
        elif entry[:2] > self.pairs[0][:2]:
            heapq.heapreplace(self.pairs, entry)
        return MODEL_OUTPUT, {"sample_id": sample_id, "similarity": round(similarity, 4)}

    def _near_duplicate(
        self, line: Line, values, keys, earlier_chunks: list[int], reason
    ) -> tuple[str, dict] | None:
        """Count a near duplicate of an earlier document (``earlier_chunks``: candidates
        from before this chunk), or remember this one as a first."""
        if values is None:
            return reason
        low_bits = values.astype(np.uint16)
        candidates = sorted(set(earlier_chunks) | self._own.pending_matches(keys))
        if candidates:
            earlier = np.array([self._own_signatures[i // BLOCK][i % BLOCK] for i in candidates])
            agreement = (earlier == low_bits).mean(axis=1)
            best = int(np.argmax(agreement))
            if agreement[best] >= self.threshold:
                self.near += 1
                return reason or (NEAR_DUPLICATE, {"of_line": self._own_lines[candidates[best]]})
        first = len(self._own_lines)
        if first % BLOCK == 0:
            self._own_signatures.append(np.empty((BLOCK, len(values)), dtype=np.uint16))
        self._own_signatures[-1][first % BLOCK] = low_bits
        self._own.add(keys, first)
        self._own_lines.append(line.number)
        return reason

    def summary(self) -> dict:
        """The scan's figures; endpoints and stored outputs by id (``scans.describe`` names
        them)."""
        total = self.documents
        return {
            "threshold": self.threshold,
            "documents": total,
            "kept": total - self.dropped,
            "index": {"outputs": len(self.index), "load_seconds": self.index.load_seconds},
            "model_outputs": {
                **wilson(self.matched, total),
                "by_endpoint": [
                    {"endpoint_id": endpoint_id, **wilson(count, total)}
                    for endpoint_id, count in self.by_endpoint.most_common()
                ],
                "pairs": [pair for *_, pair in sorted(self.pairs, reverse=True)],
            },
            "duplicates": {
                "exact": wilson(self.exact, total),
                "near": wilson(self.near, total),
                "any": wilson(self.duplicates, total),
            },
            "malformed": {"count": self.malformed, "lines": self.malformed_lines},
        }


def scan_lines(
    lines: Iterable[Line],
    scan: CorpusScan,
    on_progress: Callable[[CorpusScan], None] | None = None,
) -> CorpusScan:
    """Feed every line to ``scan``, ``CHUNK`` at a time, calling ``on_progress`` after each
    chunk."""
    chunk: list[Line] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == CHUNK:
            scan.add_chunk(chunk)
            chunk = []
            if on_progress is not None:
                on_progress(scan)
    scan.add_chunk(chunk)
    return scan
