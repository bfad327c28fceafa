"""Factual probes: answer normalisation, correctness, popularity terciles and hedges.

A probe is a question about a real entity with gold answer aliases and a popularity figure
(for the shipped set, a population). Following the PopQA evaluation (Mallen et al., 2023,
"When Not to Trust Language Models") with SQuAD answer normalisation (Rajpurkar et al.,
2016), an answer is right when a normalised gold alias occurs in the normalised answer.
"""

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from importlib import resources

TERCILES = ("head", "torso", "tail")
_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_DELETED = frozenset(".'\u2019")


def _normalize_char(char: str) -> str:
    # Periods and apostrophes sit inside words ("U.S.", "d'Ivoire") and are deleted, as in
    # SQuAD; other punctuation and symbols separate words ("capital—Washington").
    if char in _DELETED:
        return ""
    return " " if unicodedata.category(char)[0] in "PSZ" else char


def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation: case-fold, delete periods and apostrophes ("U.S." becomes
    "us"), turn any other Unicode punctuation or symbol into a space, drop the articles
    a/an/the, collapse whitespace."""
    stripped = "".join(map(_normalize_char, text.casefold()))
    return " ".join(_ARTICLES_RE.sub(" ", stripped).split())


def _contains_phrase(haystack: str, phrase: str) -> bool:
    # Padding with spaces matches whole words only: "paris" must not match "parisian".
    return bool(phrase) and f" {phrase} " in f" {haystack} "


def is_correct(answer: str, gold_aliases: Iterable[str]) -> bool:
    """Whether any normalised gold alias occurs, as whole words, in the normalised answer.
    Aliases that normalise to nothing (e.g. "The") never match."""
    normalized = normalize_answer(answer)
    return any(_contains_phrase(normalized, normalize_answer(alias)) for alias in gold_aliases)


@functools.cache
def default_hedges() -> tuple[str, ...]:
    """The shipped hedge and abstention phrases (``evaluators/data/hedges.txt``), normalised."""
    text = resources.files("evaluators").joinpath("data/hedges.txt").read_text("utf-8")
    lines = (line.strip() for line in text.splitlines())
    return tuple(normalize_answer(line) for line in lines if line and not line.startswith("#"))


def is_hedged(answer: str, hedges: Sequence[str] | None = None) -> bool:
    """Whether the answer contains a hedge or abstention phrase (default: the shipped list)."""
    normalized = normalize_answer(answer)
    phrases = default_hedges() if hedges is None else [normalize_answer(h) for h in hedges]
    return any(_contains_phrase(normalized, phrase) for phrase in phrases)


def popularity_terciles(popularities: Sequence[float]) -> list[str]:
    """Label each probe "head", "torso" or "tail" by popularity rank: the most popular third is
    the head, the least popular third the tail. Ties keep input order, so the labels are
    deterministic."""
    ranking = sorted(range(len(popularities)), key=lambda index: -popularities[index])
    labels = [""] * len(popularities)
    for rank, index in enumerate(ranking):
        labels[index] = TERCILES[3 * rank // len(popularities)]
    return labels


def accuracy(answers: Sequence[str], gold: Sequence[Sequence[str]]) -> float:
    """The share of answers that are correct (see :func:`is_correct`)."""
    if not answers or len(answers) != len(gold):
        raise ValueError("accuracy needs one gold alias list per answer, and some answers")
    return sum(map(is_correct, answers, gold)) / len(answers)


def tail_gap(
    answers: Sequence[str], gold: Sequence[Sequence[str]], popularity: Sequence[float]
) -> float:
    """Head accuracy minus tail accuracy, with terciles from :func:`popularity_terciles`:
    positive when the model knows popular entities better than rare ones."""
    labels = popularity_terciles(popularity)

    def tercile_accuracy(tercile: str) -> float:
        chosen = [index for index, label in enumerate(labels) if label == tercile]
        return accuracy([answers[i] for i in chosen], [gold[i] for i in chosen])

    return tercile_accuracy("head") - tercile_accuracy("tail")


def confident_inaccuracy(answers: Sequence[str], gold: Sequence[Sequence[str]]) -> float:
    """The share of wrong answers that carry no hedge or abstention (see :func:`is_hedged`):
    a model that is wrong without saying so. Needs at least one wrong answer."""
    wrong = [
        answer
        for answer, aliases in zip(answers, gold, strict=True)
        if not is_correct(answer, aliases)
    ]
    if not wrong:
        raise ValueError("confident inaccuracy needs at least one wrong answer")
    return sum(not is_hedged(answer) for answer in wrong) / len(wrong)
