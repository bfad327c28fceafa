"""The one tokeniser every metric uses.

Text is case-folded and split by a single regular expression into word tokens (runs of
Unicode letters, digits and underscores, keeping inner apostrophes as in "don't") and
punctuation tokens (runs of other non-space characters). This is what NLTK's
``RegexpTokenizer(TOKEN_PATTERN)`` does, written with :mod:`re` so that it needs no NLTK data
download and no NLTK import. It works for any script that separates words with spaces;
invalid UTF-8 decoded with replacement characters yields ``"\\ufffd"`` punctuation tokens.

No token contains whitespace, so the text is first cut at whitespace by :meth:`str.split`
(which knows the same whitespace as the pattern's ``\\s``) and only the pieces that are not
already one word are handed to the regular expression: a piece of letters and digits alone
(:meth:`str.isalnum`, the pattern's ``\\w`` without the underscore) is one word token. The
tokens are the same; most of the matching is skipped.
"""

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TOKEN_PATTERN = r"\w+(?:['\u2019]\w+)*|[^\w\s]+"
_TOKEN_RE = re.compile(TOKEN_PATTERN)
_LETTER_RE = re.compile(r"[^\W\d_]")


def _pieces(text: str) -> list[str]:
    """The case-folded text cut at whitespace."""
    return text.casefold().replace("\u2019", "'").split()


def tokenize(text: str) -> list[str]:
    """Split ``text`` into case-folded word and punctuation tokens (see the module docstring)."""
    tokens = []
    for piece in _pieces(text):
        if piece.isalnum():
            tokens.append(piece)
        else:
            tokens += _TOKEN_RE.findall(piece)
    return tokens


def is_word(token: str) -> bool:
    """Whether a token is a word, i.e. contains at least one letter (numbers and punctuation
    are not words)."""
    return _LETTER_RE.search(token) is not None


@dataclass(frozen=True)
class TokenIds:
    """The tokens of a batch of texts, end to end, each as the number of its type (types are
    numbered 0, 1, ... in order of first occurrence): text ``i`` holds the next ``lengths[i]``
    entries of ``ids``."""

    ids: np.ndarray
    lengths: np.ndarray
    n_types: int


def token_ids(texts: Sequence[str]) -> TokenIds:
    """The tokens of every text (as :func:`tokenize` splits them), numbered. One pass numbers
    each token while it is fresh, a third quicker than tokenising first and numbering the token
    lists after."""
    types: defaultdict[str, int] = defaultdict()
    types.default_factory = types.__len__  # a new type gets the next number
    number = types.__getitem__
    ids: list[int] = []
    lengths = []
    for text in texts:
        before = len(ids)
        for piece in _pieces(text):
            if piece.isalnum():
                ids.append(number(piece))
            else:
                ids.extend(map(number, _TOKEN_RE.findall(piece)))
        lengths.append(len(ids) - before)
    return TokenIds(np.array(ids, dtype=np.int64), np.array(lengths, dtype=np.int64), len(types))
