"""The one tokeniser every metric uses.

Text is case-folded and split by a single regular expression into word tokens (runs of
Unicode letters, digits and underscores, keeping inner apostrophes as in "don't") and
punctuation tokens (runs of other non-space characters). This is what NLTK's
``RegexpTokenizer(TOKEN_PATTERN)`` does, written with :mod:`re` so that it needs no NLTK data
download and no NLTK import. It works for any script that separates words with spaces;
invalid UTF-8 decoded with replacement characters yields ``"\\ufffd"`` punctuation tokens.
"""

import re

TOKEN_PATTERN = r"\w+(?:['\u2019]\w+)*|[^\w\s]+"
_TOKEN_RE = re.compile(TOKEN_PATTERN)
_LETTER_RE = re.compile(r"[^\W\d_]")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into case-folded word and punctuation tokens (see the module docstring)."""
    return _TOKEN_RE.findall(text.casefold().replace("\u2019", "'"))


def is_word(token: str) -> bool:
    """Whether a token is a word, i.e. contains at least one letter (numbers and punctuation
    are not words)."""
    return _LETTER_RE.search(token) is not None
