"""Words to token ids and back, for the lab's language model.

Text is split with the evaluators' token pattern (words with inner apostrophes, and runs of
punctuation), but case is kept: "Surat" the city and "surat" the typo are different tokens,
as they are to a real model's tokenizer, and replies read as written text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from evaluators.tokenize import TOKEN_PATTERN
from lab.ngram import BOS, EOS

_TOKEN_RE = re.compile(TOKEN_PATTERN)
# Punctuation written against the word before it, and brackets against the word after.
_CLOSING = re.compile(r"^[.,;:!?)\]}%]+$")
_OPENING = frozenset("([{")
BOS_TOKEN, EOS_TOKEN = "<s>", "</s>"


def split_tokens(text: str) -> list[str]:
    """The tokens of ``text``, case kept."""
    return _TOKEN_RE.findall(text.replace("\u2019", "'"))


def join_tokens(tokens: Iterable[str]) -> str:
    """Write tokens back as text: spaces between words, none before closing punctuation."""
    text, glue = "", False
    for token in tokens:
        if text and not glue and not _CLOSING.match(token):
            text += " "
        text += token
        glue = token in _OPENING
    return text


@dataclass(frozen=True)
class Vocabulary:
    """A fixed list of tokens; id 0 is the sentence start and id 1 the sentence end."""

    tokens: tuple[str, ...]
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tokens[:2] != (BOS_TOKEN, EOS_TOKEN):
            raise ValueError("a vocabulary starts with the sentence start and end tokens")
        object.__setattr__(self, "_ids", {token: i for i, token in enumerate(self.tokens)})

    @classmethod
    def of_texts(cls, texts: Iterable[str]) -> Vocabulary:
        """Every token of ``texts``, in order of first appearance."""
        seen = dict.fromkeys(token for text in texts for token in split_tokens(text))
        return cls((BOS_TOKEN, EOS_TOKEN, *seen))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._ids

    def encode(self, text: str) -> list[int]:
        """The ids of the tokens of ``text`` that are in the vocabulary (others are dropped)."""
        return [self._ids[token] for token in split_tokens(text) if token in self._ids]

    def decode(self, ids: Sequence[int]) -> str:
        return join_tokens(self.tokens[i] for i in ids if i not in (BOS, EOS))
