"""Human-written prose that ships with the project, and a recursive-training chain on it.

Source and licence: the prose of the Python Language Reference topics that ship with the
interpreter as ``pydoc_data.topics.topics``, Copyright (c) 2001-2023 Python Software
Foundation, used under the Python Software Foundation License (PSF License Agreement). The
extracted prose is written once to ``lab/data/prose.txt`` so that draws do not change with the
interpreter's patch version; ``python -m lab.prose --rebuild`` regenerates it.

Extraction keeps paragraphs of sentences and drops headings and their ``***``/``===``
underlines, code and grammar blocks, doctest lines, tables and one-line definition terms. A
*section* is one titled part of a topic (the topic itself, or a heading inside it), named
``"topic: Heading"``; paragraphs already seen in an earlier topic are left out, since several
topics repeat each other.

A *prompt* is a section and its *samples* are passages of exactly ``words`` whitespace words
of that section, at seeded random, disjoint positions (see :func:`draw`; sections shorter than
``words`` are never prompts).

The chain (:func:`chain`) is the recursive-training loop of Shumailov et al. (2024) on this
text: generation 0 is a draw of the human text; generation 1 is a word-trigram model trained
on the human sentences; the model of generation g + 1 is trained on as many sentences as the
human corpus, sampled at temperature 1 from the model of generation g. Every answer starts
from the first two words of the matching generation-0 passage, so all generations answer the
same prompts from the same openings.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from pydoc_data.topics import topics

import numpy as np

from lab.ngram import BOS, EOS, NgramModel

PROSE_PATH = Path(__file__).resolve().parent / "data" / "prose.txt"
SECTION_MARK = "## "
ORDER = 3
SEED_WORDS = 2
# Room each passage of a draw is placed in (see draw).
SLOT_WORDS = 60
# Longer than any sentence of the source (the longest has about 200 words), so a sampled
# sentence is cut short only when a model has drifted into run-on text.
MAX_SENTENCE_WORDS = 250
# Streams of a seed's random generator, so that one choice never shifts another.
_PROMPTS, _PASSAGES, _CORPUS, _ANSWERS = range(4)

_HEADER = """\
# Prose of the Python Language Reference topics (pydoc_data.topics, Python {version}).
# Copyright (c) 2001-2023 Python Software Foundation; Python Software Foundation License.
# Regenerate with: python -m lab.prose --rebuild
# "## name" starts a section; every other non-empty line is one paragraph of it.
"""
_UNDERLINE = re.compile(r"^([*=\-~^])\1{2,}$")
_FOOTNOTE = re.compile(r"\s*\[\d+\]")
_BULLET = re.compile(r"^(?:[*\-•]|\(?\d+[.)])\s+")
_SENTENCE_END = re.compile(r"""[.?!:][)"”’]*$""")
_SENTENCE_BREAK = re.compile(r"""(?<=[.?!])\s+(?=["“(*]?[A-Z])""")
_CODE_SIGNS = ("::=", ">>>", "...", "+-", "|", "#")


@dataclass(frozen=True)
class Section:
    """One titled part of a topic: its name (the prompt id) and its paragraphs."""

    name: str
    paragraphs: tuple[str, ...]

    @functools.cached_property
    def words(self) -> tuple[str, ...]:
        """The section's whitespace words, in order: what passages are cut from."""
        return tuple(word for paragraph in self.paragraphs for word in paragraph.split())


# Extraction ------------------------------------------------------------------------------------
def _blocks(lines: Sequence[str]) -> Iterator[list[str]]:
    """The runs of non-blank lines."""
    block: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            block.append(line.rstrip())
        elif block:
            yield block
            block = []


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_literal(block: list[str], previous: list[str] | None) -> bool:
    """A block indented deeper than the block before it, when that one ends in a colon, is a
    literal block (reST's ``::``): code or grammar. A colon closing a short label ("Note:")
    and a bulleted block are prose."""
    if previous is None or not previous[-1].endswith(":") or len(previous[-1].split()) <= 2:
        return False
    if _BULLET.match(block[0].strip()):
        return False
    return min(map(_indent, block)) > min(map(_indent, previous))


def _prose_of_block(block: list[str], previous: list[str] | None) -> str | None:
    """The block as one paragraph of prose, or None for code, grammar, tables and terms."""
    if _is_literal(block, previous):
        return None
    if len(block) > 1 and _indent(block[0]) < _indent(block[1]):
        block = block[1:]  # a definition list's term, kept only through its description
    stripped = [line.strip() for line in block]
    if any(line.startswith(_CODE_SIGNS) or "::=" in line for line in stripped):
        return None
    text = _FOOTNOTE.sub("", " ".join(_BULLET.sub("", line) for line in stripped))
    words = text.split()
    alphabetic = sum(word.strip(".,;:()\"'*“”’").isalpha() for word in words)
    if len(words) < 4 or alphabetic < 0.6 * len(words) or not _SENTENCE_END.search(text):
        return None
    return text


def _split_topic(topic: str, text: str) -> Iterator[tuple[str, list[str]]]:
    """(section name, lines) for each heading of a topic's text."""
    lines = text.splitlines()
    heading, body = None, []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _UNDERLINE.match(line.strip()):
            continue
        if line.strip() and _UNDERLINE.match(following.strip()):
            if heading is not None:
                yield f"{topic}: {heading}", body
            heading, body = line.strip(), []
        else:
            body.append(line)
    if heading is not None:
        yield f"{topic}: {heading}", body


def extract_sections(topics: dict[str, str]) -> list[Section]:
    """The prose sections of pydoc topics, paragraphs seen in an earlier topic left out."""
    seen: set[str] = set()
    sections = []
    for topic in sorted(topics):
        for name, lines in _split_topic(topic, topics[topic]):
            paragraphs, previous = [], None
            for block in _blocks(lines):
                paragraph = _prose_of_block(block, previous)
                previous = block
                if paragraph is not None and paragraph not in seen:
                    seen.add(paragraph)
                    paragraphs.append(paragraph)
            if paragraphs:
                sections.append(Section(name, tuple(paragraphs)))
    return sections


def write_prose(sections: Sequence[Section], path: Path, version: str) -> None:
    """Write sections in the shipped format: the header, then each section's mark and
    paragraphs, sections separated by a blank line."""
    parts = [_HEADER.format(version=version)]
    for section in sections:
        parts.append("\n" + SECTION_MARK + section.name + "\n")
        parts.extend(paragraph + "\n" for paragraph in section.paragraphs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="utf-8")


def read_prose(path: Path) -> list[Section]:
    """Read sections written by :func:`write_prose`."""
    sections: list[Section] = []
    name, paragraphs = None, []
    for line in [*path.read_text(encoding="utf-8").splitlines(), SECTION_MARK]:
        if line.startswith(SECTION_MARK):
            if name is not None:
                sections.append(Section(name, tuple(paragraphs)))
            name, paragraphs = line[len(SECTION_MARK) :], []
        elif line.strip() and not line.startswith("#"):
            paragraphs.append(line.strip())
    return sections


@functools.cache
def sections() -> tuple[Section, ...]:
    """The shipped source text, read once per process."""
    return tuple(read_prose(PROSE_PATH))


@functools.cache
def _section_index() -> dict[str, Section]:
    """Sections by name, for a draw of named prompts."""
    return {section.name: section for section in sections()}


# Draws -----------------------------------------------------------------------------------------
def prompt_ids(seed: int, prompts: int = 100, words: int = 30) -> list[str]:
    """``prompts`` distinct sections of at least ``words`` words, chosen by ``seed``: pass
    them to :func:`draw` to have draws of different seeds answer the same prompts."""
    eligible = [section.name for section in sections() if len(section.words) >= words]
    if prompts > len(eligible):
        raise ValueError(f"only {len(eligible)} sections have {words} words, not {prompts}")
    rng = np.random.default_rng([seed, _PROMPTS])
    return [eligible[i] for i in rng.choice(len(eligible), prompts, replace=False)]


def draw(
    seed: int,
    prompts: int = 100,
    samples: int = 5,
    words: int = 30,
    ids: Sequence[str] | None = None,
) -> list[dict]:
    """An independent draw of the source: ``samples`` passages of exactly ``words`` words for
    each of ``prompts`` sections, as rows ``{"prompt_id", "text"}``.

    Sections are chosen by ``seed`` unless ``ids`` names them (a paired design); passage
    positions always come from ``seed``, so two seeds give independent samples. A prompt's
    passages never overlap: they start slots of ``max(words, SLOT_WORDS)`` words placed
    uniformly at random, disjoint, in the section's text extended to at least ``samples`` slots
    by the sections after it (wrapping round the end of the source). Overlapping passages would
    repeat one another's bigrams and make human text look as repetitive as a collapsed model.
    Slots do not depend on ``words`` (up to ``SLOT_WORDS``), so a 30-word answer is drawn
    exactly as the first 30 words of a 60-word one: the two lengths are one source.
    """
    chosen = list(ids) if ids is not None else prompt_ids(seed, prompts, words)
    rng = np.random.default_rng([seed, _PASSAGES])
    stream, starts = _stream()
    slot = max(words, SLOT_WORDS)
    rows = []
    for name in chosen:
        span = max(len(_section_index()[name].words), samples * slot)
        gaps = np.sort(rng.integers(0, span - samples * slot + 1, samples))
        for start in starts[name] + gaps + slot * np.arange(samples):
            passage = (stream[i % len(stream)] for i in range(start, start + words))
            rows.append({"prompt_id": name, "text": " ".join(passage)})
    return rows


@functools.cache
def _stream() -> tuple[tuple[str, ...], dict[str, int]]:
    """Every word of the source in order, and where each section starts in it."""
    stream: list[str] = []
    starts = {}
    for section in sections():
        starts[section.name] = len(stream)
        stream.extend(section.words)
    return tuple(stream), starts


def truncate(rows: Iterable[dict], words: int) -> list[dict]:
    """The rows with each text cut to its first ``words`` words."""
    return [{**row, "text": " ".join(row["text"].split()[:words])} for row in rows]


def halve(rows: Iterable[dict]) -> list[dict]:
    """The rows with each text cut to the first half of its own words (rounded up, so no
    text is emptied)."""
    halved = []
    for row in rows:
        split = row["text"].split()
        halved.append({**row, "text": " ".join(split[: (len(split) + 1) // 2])})
    return halved


# The chain -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Vocabulary:
    """Whitespace words to token ids; ids 0 and 1 are the sentence start and end."""

    words: tuple[str, ...]

    @functools.cached_property
    def ids(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}

    def encode(self, text: Sequence[str]) -> list[int]:
        return [self.ids[word] for word in text]


@functools.cache
def _vocabulary() -> _Vocabulary:
    seen = dict.fromkeys(word for section in sections() for word in section.words)
    return _Vocabulary(("<s>", "</s>", *seen))


@functools.cache
def human_sentences() -> tuple[tuple[int, ...], ...]:
    """The source as sentences of token ids: the training corpus of generation 1."""
    vocabulary = _vocabulary()
    return tuple(
        tuple(vocabulary.encode(sentence.split()))
        for section in sections()
        for paragraph in section.paragraphs
        for sentence in _SENTENCE_BREAK.split(paragraph)
    )


@functools.lru_cache(maxsize=32)
def model(seed: int, generation: int) -> NgramModel:
    """The trigram of ``generation`` (>= 1): trained on the human sentences for generation 1,
    else on as many sentences sampled at temperature 1 from the generation before."""
    if generation < 1:
        raise ValueError("generation 0 is the human text, not a model")
    vocabulary_size = len(_vocabulary().words)
    if generation == 1:
        return NgramModel.train(human_sentences(), ORDER, vocabulary_size)
    rng = np.random.default_rng([seed, _CORPUS, generation])
    previous = model(seed, generation - 1)
    corpus = previous.generate([[]] * len(human_sentences()), rng, MAX_SENTENCE_WORDS)
    return NgramModel.train(corpus, ORDER, vocabulary_size)


def continue_texts(
    trigram: NgramModel, openings: Sequence[Sequence[str]], words: int, rng: np.random.Generator
) -> list[list[str]]:
    """Continue each opening until it has ``words`` words in all, at temperature 1. A sampled
    sentence end starts a new sentence, so every text gets exactly ``words`` words."""
    vocabulary = _vocabulary()
    contexts = np.array([[BOS] * ORDER + vocabulary.encode(opening) for opening in openings])
    contexts = contexts[:, -(ORDER - 1) :]
    texts = [list(opening) for opening in openings]
    lengths = np.array([len(text) for text in texts])
    while np.any(lengths < words):
        rows = np.flatnonzero(lengths < words)
        tokens = trigram.sample_next(contexts[rows], rng)
        ended = tokens == EOS
        contexts[rows[ended]] = BOS
        contexts[rows[~ended]] = np.column_stack([contexts[rows[~ended], 1:], tokens[~ended]])
        for row, token in zip(rows[~ended], tokens[~ended], strict=True):
            texts[row].append(vocabulary.words[token])
        lengths[rows[~ended]] += 1
    return texts


def chain(
    seed: int,
    generations: int,
    prompts: int = 100,
    samples: int = 5,
    words: int = 30,
    ids: Sequence[str] | None = None,
) -> list[list[dict]]:
    """Generations 0..``generations`` answering the same prompts: generation 0 is
    ``draw(seed, ...)``, generation g >= 1 continues the first two words of each of its
    passages with :func:`model` ``(seed, g)``. Deterministic given ``seed``."""
    human = draw(seed, prompts, samples, words, ids)
    openings = [row["text"].split()[:SEED_WORDS] for row in human]
    result = [human]
    for generation in range(1, generations + 1):
        rng = np.random.default_rng([seed, _ANSWERS, generation])
        texts = continue_texts(model(seed, generation), openings, words, rng)
        result.append(
            [
                {"prompt_id": row["prompt_id"], "text": " ".join(text)}
                for row, text in zip(human, texts, strict=True)
            ]
        )
    return result


def rebuild(path: Path = PROSE_PATH) -> list[Section]:
    """Extract the prose of the interpreter's pydoc topics and write it to ``path``."""
    extracted = extract_sections(topics)
    write_prose(extracted, path, platform.python_version())
    return extracted


def main(argv: Sequence[str] | None = None) -> None:
    """Write a run of the source or of the chain as JSONL rows for ``python -m evaluators``
    (``--draw SEED`` or ``--generation G``), or with ``--rebuild`` write the shipped file anew;
    otherwise print its size."""
    parser = argparse.ArgumentParser(prog="python -m lab.prose", description=main.__doc__)
    parser.add_argument("--rebuild", action="store_true", help="re-extract lab/data/prose.txt")
    parser.add_argument("--draw", type=int, metavar="SEED", help="a draw of the human text")
    parser.add_argument("--generation", type=int, help="generation G of the chain")
    parser.add_argument("--seed", type=int, default=0, help="the chain's seed (default 0)")
    parser.add_argument("--words", type=int, default=30, help="words per answer (default 30)")
    parser.add_argument("--cut-to", type=int, metavar="WORDS", help="cut each answer to WORDS")
    args = parser.parse_args(argv)
    if args.draw is not None or args.generation is not None:
        # Every run written here answers the same prompts, as a monitored endpoint's runs do.
        ids = prompt_ids(0)
        if args.draw is not None:
            rows = draw(args.draw, words=args.words, ids=ids)
        else:
            rows = chain(args.seed, args.generation, words=args.words, ids=ids)[-1]
        rows = truncate(rows, args.cut_to) if args.cut_to else rows
        print("".join(json.dumps(row) + "\n" for row in rows), end="")
        return
    if args.rebuild:
        rebuild()
    loaded = read_prose(PROSE_PATH)
    print(
        f"{PROSE_PATH.stat().st_size} bytes, {len(loaded)} sections, "
        f"{sum(len(section.words) for section in loaded)} words"
    )


if __name__ == "__main__":
    main()
