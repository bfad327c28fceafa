"""Length matching: compare runs at equal output length, so that verbosity is not read as
collapse.

Type/token ratios fall as texts grow (Heaps' law), and n-gram overlap, compressibility and the
averaging of longer texts into one embedding all grow with length (Liu et al., 2022, "Rethinking
and Refining the Distinct Metric"; McCarthy & Jarvis, 2010, on MTLD and MATTR; Shaib et al.,
2024, on compression ratios). A model that starts answering at twice the length therefore looks
less diverse by every raw measure, and a collapsed model that answers tersely looks healthy.

The length-matched metrics (``<key>_matched`` in :data:`evaluators.metrics.METRICS`) are the same
formulas computed on a common *window*: every output cut to its first L tokens. Cutting keeps
the part of an answer that two models of different verbosity share, the beginning, and leaves
the number of outputs alone, so the corpus-level counts (n-grams, types, gzip bytes) of two runs
with the same number of outputs rest on about the same number of tokens. L is the shorter of
the two runs' *natural windows*, the 10th percentile of their non-empty outputs' lengths in tokens:
nearly every answer of both runs reaches L, so nearly every cut answer holds exactly L tokens.
Empty outputs stay empty and count as what they are, text with nothing in it. A single
run is measured at the window of the run it is compared with (its reference), so a series of
runs stays on one scale while the answers' length drifts.
"""

import math
import re
from collections.abc import Sequence

import numpy as np

from evaluators.tokenize import TOKEN_PATTERN

WINDOW_QUANTILE = 0.1
_TOKEN_RE = re.compile(TOKEN_PATTERN)


def natural_window(lengths: Sequence[int] | np.ndarray) -> int | None:
    """A run's natural window: the 10th percentile of its non-empty outputs' token counts (at
    least 1); None when every output is empty. An empty output has no length to match: were it
    counted, a model that answers a tenth of its prompts with nothing would pull the shared
    window down to one token, where no length-matched sign can move."""
    if len(lengths) == 0:
        raise ValueError("a window needs at least one output")
    answered = np.asarray(lengths, dtype=float)
    answered = answered[answered > 0]
    if not len(answered):
        return None
    return max(1, math.floor(np.quantile(answered, WINDOW_QUANTILE)))


def shared_window(*windows: int | None) -> int | None:
    """The window two or more runs are compared at: the shortest of their windows."""
    known = [window for window in windows if window is not None]
    return min(known) if known else None


def cut(text: str, window: int) -> str:
    """``text`` up to the end of its ``window``-th token (see :mod:`evaluators.tokenize`), as
    written, so that an encoder embeds real text; the whole text when it is shorter."""
    # Matching the original text gives the same token boundaries as the case-folded one: case
    # folding does not move characters across the word / punctuation / space classes.
    for count, match in enumerate(_TOKEN_RE.finditer(text), start=1):
        if count == window:
            return text[: match.end()]
    return text


def quartiles(lengths: np.ndarray) -> dict[str, float | None]:
    """The quartiles of the outputs' token counts, and the natural window."""
    q1, median, q3 = np.quantile(lengths.astype(float), [0.25, 0.5, 0.75])
    return {
        "q1": float(q1),
        "median": float(median),
        "q3": float(q3),
        "window": natural_window(lengths),
    }
