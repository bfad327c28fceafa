"""How a lab model answers a prompt, as served at ``/lab/v1``.

An n-gram model only continues text, so a prompt becomes a prefix to continue:

* a factual probe ("In which country is the city of Surat?") names an entity the corpus talks
  about; the model writes several sentences that start with that subject ("Surat ...") and
  answers with the one using most of the question's content words, so a question about a
  capital gets the sentence about the capital rather than the one about the currency. Whether
  the answer is right depends only on what the model still knows about the subject;
* any other prompt is continued from its last words the model knows, for a few sentences.

Batched: answering a thousand prompts takes a few dozen vectorised sampling steps.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import wordfreq

from lab.ngram import NgramModel
from lab.text import Vocabulary, join_tokens, split_tokens

CANDIDATES_PER_PROBE = 8
PROBE_ANSWER_TOKENS = 24
OPEN_REPLY_TOKENS = 40
FUNCTION_WORD_COUNT = 100


def _words(tokens: Iterable[str]) -> set[str]:
    return {token.casefold() for token in tokens if token[0].isalnum()}


@functools.cache
def _function_words() -> frozenset[str]:
    """English's most frequent words ("the", "is", "of"), which say nothing about a topic."""
    return frozenset(wordfreq.top_n_list("en", FUNCTION_WORD_COUNT))


@dataclass(frozen=True)
class PromptReader:
    """Reads prompts: finds the entity a question is about among the names the corpus talks
    about, and judges which candidate answer speaks to the question."""

    subjects: frozenset[tuple[str, ...]]
    # The token counts of the names that start with each token, longest first: a prompt is read
    # in one pass, trying at each token only the names that can start there.
    _lengths_by_first_token: dict[str, tuple[int, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        lengths: dict[str, set[int]] = defaultdict(set)
        for subject in self.subjects:
            if subject:
                lengths[subject[0]].add(len(subject))
        object.__setattr__(
            self,
            "_lengths_by_first_token",
            {token: tuple(sorted(counts, reverse=True)) for token, counts in lengths.items()},
        )

    @classmethod
    def of_subjects(cls, subjects: Iterable[str]) -> PromptReader:
        return cls(frozenset(tuple(split_tokens(subject)) for subject in subjects))

    def find_subject(self, tokens: Sequence[str]) -> tuple[str, ...] | None:
        """The longest entity name among ``tokens`` (of several as long, the first), or None
        for a prompt about nothing known. The work grows with the prompt's length times the
        longest name's, never with the square of the prompt's: a long prompt is no burden."""
        found: tuple[str, ...] | None = None
        for start, token in enumerate(tokens):
            for length in self._lengths_by_first_token.get(token, ()):
                if found is not None and length <= len(found):
                    break
                if start + length > len(tokens):
                    continue
                span = tuple(tokens[start : start + length])
                if span in self.subjects:
                    found = span
                    break
        return found

    @staticmethod
    def relevance(question: Sequence[str], subject: Sequence[str], answer: Sequence[str]) -> int:
        """How many content words of the question, other than its subject, the answer uses:
        "capital" in "What is the capital of Chad?" picks the sentence about the capital."""
        asked = _words(question) - _words(subject) - _function_words()
        return len(asked & _words(answer))


@dataclass(frozen=True)
class LabModel:
    """One trained generation with what it needs to read prompts and write replies."""

    model: NgramModel
    vocabulary: Vocabulary
    reader: PromptReader

    def replies(self, prompts: Sequence[str], rng: np.random.Generator) -> list[str]:
        """One sampled reply to each prompt (see the module docstring)."""
        prompt_tokens = [split_tokens(prompt) for prompt in prompts]
        found = [self.reader.find_subject(tokens) for tokens in prompt_tokens]
        probes = [i for i, subject in enumerate(found) if subject is not None]
        others = [i for i, subject in enumerate(found) if subject is None]
        answers = dict(
            zip(
                probes,
                self._probe_answers(
                    [found[i] for i in probes], [prompt_tokens[i] for i in probes], rng
                ),
                strict=True,
            )
        )
        answers.update(
            zip(others, self._continuations([prompt_tokens[i] for i in others], rng), strict=True)
        )
        return [answers[i] for i in range(len(prompts))]

    def _probe_answers(
        self,
        subjects: Sequence[tuple[str, ...]],
        questions: Sequence[Sequence[str]],
        rng: np.random.Generator,
    ) -> list[str]:
        prefixes = [self.vocabulary.encode(" ".join(subject)) for subject in subjects]
        continuations = self.model.generate(
            [prefix for prefix in prefixes for _ in range(CANDIDATES_PER_PROBE)],
            rng,
            PROBE_ANSWER_TOKENS,
        )
        answers = []
        for index, (subject, question) in enumerate(zip(subjects, questions, strict=True)):
            own = continuations[index * CANDIDATES_PER_PROBE : (index + 1) * CANDIDATES_PER_PROBE]
            candidates = [split_tokens(self.vocabulary.decode(prefixes[index] + t)) for t in own]
            best = max(
                candidates, key=lambda answer: self.reader.relevance(question, subject, answer)
            )
            answers.append(join_tokens(best))
        return answers

    def _continuations(
        self, prompts: Sequence[Sequence[str]], rng: np.random.Generator
    ) -> list[str]:
        """Continue each prompt from its last known words, sentence after sentence, until
        ``OPEN_REPLY_TOKENS`` tokens are written."""
        known = [
            [token for token in tokens if token in self.vocabulary and token[0].isalnum()]
            for tokens in prompts
        ]
        prefixes = [
            self.vocabulary.encode(" ".join(words[-(self.model.order - 1) :])) for words in known
        ]
        written: list[list[int]] = [[] for _ in prompts]
        pending = list(range(len(prompts)))
        while pending:
            budget = OPEN_REPLY_TOKENS - min(len(written[i]) for i in pending)
            sentences = self.model.generate([prefixes[i] for i in pending], rng, budget)
            for i, tokens in zip(pending, sentences, strict=True):
                written[i] += tokens[: OPEN_REPLY_TOKENS - len(written[i])]
                prefixes[i] = []
            # A row whose sentence came out empty has nothing more to say.
            pending = [
                i
                for i, tokens in zip(pending, sentences, strict=True)
                if tokens and len(written[i]) < OPEN_REPLY_TOKENS
            ]
        return [self.vocabulary.decode(tokens) for tokens in written]
