"""The index of stored model outputs that corpus scans search: MinHash over word shingles.

Each successful sample gets its signature once, when its run finishes (``index_run``, called
from ``sampling.finish_run``), stored as bytes in ``OutputSignature``. A scan never hashes a
stored output again: it loads the signatures into an LSH banded for its own threshold
(``load_index``); ``catch_up`` only signs outputs that finished before the index existed or
whose run ended without ``finish_run`` (a run given up on).
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash
from django.db.models import F
from django.utils import timezone

from monitor.models import (
    FINISHED_RUN_STATUSES,
    OutputIndexStats,
    OutputSignature,
    Run,
    Sample,
)
from monitor.services.banding import BandedIndex

log = logging.getLogger(__name__)

NUM_PERM = 128
SHINGLE_WORDS = 3  # ``shingles`` joins three words
SEED = 1
SCHEME = "affine32"
_WORD = re.compile(r"\w+")
# Drawn once: a MinHash draws its permutations on creation, which costs more than hashing a
# document of a hundred words.
PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME).permutations
SIGNED_BATCH = 500


def words(text: str) -> list[str]:
    """Case-folded words without punctuation, so that a copy re-cased or re-punctuated still
    matches."""
    return _WORD.findall(text.lower())


def shingle_hash(shingle: bytes) -> int:
    # CRC-32 is stable across processes (stored signatures must stay comparable) and several
    # times faster than the default SHA-1; collisions of two shingles barely move a Jaccard.
    return zlib.crc32(shingle)


def signature(tokens: list[str]) -> np.ndarray | None:
    """The MinHash values (uint32) of a document's word shingles; None when it has no
    words."""
    if not tokens:
        return None
    minhash = MinHash(
        num_perm=NUM_PERM,
        seed=SEED,
        hashfunc=shingle_hash,
        permutations=PERMUTATIONS,
        scheme=SCHEME,
    )
    minhash.update_batch(shingles(tokens))
    return minhash.hashvalues


def shingles(tokens: list[str]) -> list[bytes]:
    """The document's runs of ``SHINGLE_WORDS`` words (the whole of a shorter one)."""
    if len(tokens) < SHINGLE_WORDS:
        return [" ".join(tokens).encode()]
    triples = zip(tokens, tokens[1:], tokens[2:], strict=False)
    return [f"{a} {b} {c}".encode() for a, b, c in triples]


def sign_samples(samples: Iterable[Sample]) -> int:
    """Store the signature of each sample (with its run's endpoint) not yet signed; returns how
    many were signed. Idempotent: a second call for the same samples writes nothing."""
    started = time.perf_counter()
    rows = []
    for sample in samples:
        values = signature(words(sample.text))
        if values is not None:
            rows.append(
                OutputSignature(
                    sample_id=sample.pk,
                    endpoint_id=sample.run.endpoint_id,
                    hashvalues=values.astype(np.uint32).tobytes(),
                )
            )
    existing = set(
        OutputSignature.objects.filter(sample_id__in=[row.sample_id for row in rows]).values_list(
            "sample_id", flat=True
        )
    )
    new = [row for row in rows if row.sample_id not in existing]
    OutputSignature.objects.bulk_create(new, ignore_conflicts=True)
    if new:
        _record_growth(len(new), time.perf_counter() - started)
    return len(new)


def _record_growth(outputs: int, seconds: float) -> None:
    stats = OutputIndexStats.current()
    if stats._state.adding:
        stats.save()
    OutputIndexStats.objects.filter(pk=stats.pk).update(
        outputs=F("outputs") + outputs,
        build_seconds=F("build_seconds") + seconds,
        updated_at=timezone.now(),
    )


def _signable(samples):
    return samples.filter(error="").exclude(text="").select_related("run")


def index_run(run: Run) -> int:
    """Add a finished run's successful outputs to the index."""
    return sign_samples(_signable(run.samples.all()).iterator(chunk_size=SIGNED_BATCH))


def catch_up() -> int:
    """Sign the finished runs' outputs that have no signature yet."""
    missing = _signable(
        Sample.objects.filter(run__status__in=FINISHED_RUN_STATUSES, signature__isnull=True)
    ).order_by("pk")
    signed = 0
    while batch := list(missing[:SIGNED_BATCH]):
        added = sign_samples(batch)
        signed += added
        if not added:
            # Only outputs without a single word are left: nothing to sign in them.
            break
    return signed


@dataclass
class OutputIndex:
    """Stored outputs' signatures, banded: ``sample_ids[i]`` and ``endpoint_ids[i]`` belong
    to row ``i`` of ``hashvalues``, the id the banded index returns."""

    banded: BandedIndex
    threshold: float
    hashvalues: np.ndarray
    sample_ids: np.ndarray
    endpoint_ids: np.ndarray
    load_seconds: float

    def __len__(self) -> int:
        return len(self.sample_ids)

    def best_match(self, values: np.ndarray, rows: list[int]) -> tuple[int, float] | None:
        """Of the candidate ``rows`` (from ``banded``), the one most similar to the signature
        ``values`` at or over the threshold, with its estimated Jaccard similarity; None when
        none is."""
        if not rows:
            return None
        agreement = (self.hashvalues[rows] == values).mean(axis=1)
        best = int(np.argmax(agreement))
        if agreement[best] < self.threshold:
            return None
        return rows[best], float(agreement[best])


def load_index(threshold: float) -> OutputIndex:
    """The stored signatures, banded for ``threshold``."""
    started = time.perf_counter()
    rows = OutputSignature.objects.order_by("sample_id").values_list(
        "sample_id", "endpoint_id", "hashvalues"
    )
    count = rows.count()
    sample_ids = np.empty(count, dtype=np.int64)
    endpoint_ids = np.empty(count, dtype=np.int64)
    hashvalues = np.empty((count, NUM_PERM), dtype=np.uint32)
    # Filled row by row: a list of the blobs would hold the index twice over while loading.
    # Outputs signed after the count wait for the next scan; outputs deleted meanwhile are
    # cut off the end.
    filled = 0
    for sample_id, endpoint_id, blob in rows[:count].iterator(chunk_size=5000):
        sample_ids[filled], endpoint_ids[filled] = sample_id, endpoint_id
        hashvalues[filled] = np.frombuffer(blob, dtype=np.uint32)
        filled += 1
    sample_ids, endpoint_ids, hashvalues = (
        sample_ids[:filled],
        endpoint_ids[:filled],
        hashvalues[:filled],
    )
    banded = BandedIndex(threshold, NUM_PERM)
    banded.add_many(hashvalues, np.arange(len(hashvalues)))
    return OutputIndex(
        banded=banded,
        threshold=threshold,
        hashvalues=hashvalues,
        sample_ids=sample_ids,
        endpoint_ids=endpoint_ids,
        load_seconds=time.perf_counter() - started,
    )
