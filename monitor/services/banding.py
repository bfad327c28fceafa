"""LSH banding of MinHash signatures in flat numpy arrays.

datasketch's ``MinHashLSH`` keeps a Python set per band bucket: about 9 KB a signature, more
than a 100-word document takes on disk. Here each signature costs its band keys (8 bytes a band)
and an id (4 bytes a band) in sorted arrays, searched with ``np.searchsorted`` for many
signatures at once; signatures added one at a time wait in a small dictionary, merged into the
arrays every ``merge_every``.
The banding itself (bands × rows for a threshold) is datasketch's.
"""

from __future__ import annotations

import numpy as np
from datasketch import MinHashLSH

# Banding weighs a missed near-copy nine times a false candidate: every candidate is checked
# against its signature anyway, so a false one costs a comparison, a missed one a wrong share.
LSH_WEIGHTS = (0.1, 0.9)
MERGE_EVERY = 5_000


class BandedIndex:
    """Ids of signatures, found by any band of ``rows`` values they share with a query."""

    def __init__(self, threshold: float, num_perm: int, merge_every: int = MERGE_EVERY) -> None:
        params = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
        self.bands, self.rows = params.b, params.r
        generator = np.random.default_rng(0)
        self._multipliers = generator.integers(1, 2**63, size=self.rows, dtype=np.uint64) | 1
        self._salts = generator.integers(0, 2**63, size=self.bands, dtype=np.uint64)
        self._keys = np.empty(0, dtype=np.uint64)
        self._ids = np.empty(0, dtype=np.int32)
        self._pending: dict[int, int | list[int]] = {}
        self._pending_count = 0
        self._merge_every = merge_every

    def band_keys(self, hashvalues: np.ndarray) -> np.ndarray:
        """One 64-bit key per band for each row of ``hashvalues`` (n × num_perm)."""
        bands = hashvalues[:, : self.bands * self.rows].reshape(-1, self.bands, self.rows)
        # A multiply-add hash of each band's values; uint64 arithmetic wraps, as wanted.
        return (bands.astype(np.uint64) * self._multipliers).sum(axis=2) + self._salts

    def add_many(self, hashvalues: np.ndarray, ids: np.ndarray) -> None:
        """Add signatures in bulk (an index loaded from the database)."""
        keys = self.band_keys(hashvalues).ravel()
        self._merge(keys, np.repeat(np.asarray(ids, dtype=np.int32), self.bands))

    def add(self, keys: np.ndarray, signature_id: int) -> None:
        """Add one signature by its band keys (a row of ``band_keys``); it is found by
        ``pending_matches`` until ``merge_if_due`` moves it into the sorted arrays."""
        pending = self._pending
        for key in keys.tolist():
            # An id alone, a list only for a key shared: a list a key would make the garbage
            # collector walk every pending key, again and again.
            earlier = pending.get(key)
            if earlier is None:
                pending[key] = signature_id
            elif isinstance(earlier, list):
                earlier.append(signature_id)
            else:
                pending[key] = [earlier, signature_id]
        self._pending_count += 1

    def merge_if_due(self) -> None:
        if self._pending_count >= self._merge_every:
            self._merge_pending()

    def query_sorted(self, keys: np.ndarray) -> list[list[int]]:
        """For each row of band keys (``band_keys``), the ids in the sorted arrays that share
        a band with it: one search for all rows."""
        found: list[list[int]] = [[] for _ in range(len(keys))]
        if not len(self._keys):
            return found
        flat = keys.ravel()
        low = self._keys.searchsorted(flat)
        hits = np.flatnonzero(self._keys.take(low, mode="clip") == flat)
        if len(hits):
            # Most documents share no band with anything: only hits need their range.
            high = self._keys.searchsorted(flat[hits], side="right")
            rows = (hits // self.bands).tolist()
            for row, start, stop in zip(rows, low[hits].tolist(), high.tolist(), strict=True):
                found[row].extend(self._ids[start:stop].tolist())
        return found

    def pending_matches(self, keys: np.ndarray) -> set[int]:
        """The ids added since the last merge that share a band with ``keys`` (one row)."""
        matches: set[int] = set()
        if self._pending:
            for key in keys.tolist():
                earlier = self._pending.get(key)
                if isinstance(earlier, int):
                    matches.add(earlier)
                elif earlier is not None:
                    matches.update(earlier)
        return matches

    def _merge_pending(self) -> None:
        keys, ids = [], []
        for key, earlier in self._pending.items():
            group = earlier if isinstance(earlier, list) else [earlier]
            keys += [key] * len(group)
            ids += group
        self._pending, self._pending_count = {}, 0
        self._merge(np.array(keys, dtype=np.uint64), np.array(ids, dtype=np.int32))

    def _merge(self, keys: np.ndarray, ids: np.ndarray) -> None:
        keys = np.concatenate([self._keys, keys])
        ids = np.concatenate([self._ids, ids])
        order = np.argsort(keys, kind="stable")
        self._keys, self._ids = keys[order], ids[order]
