"""Finding what a prompt is about: the longest entity name in it, in one pass over the prompt."""

import random

import pytest

import evaluators
from lab.respond import PromptReader
from lab.text import split_tokens


def longest_subject_by_every_span(
    subjects: frozenset[tuple[str, ...]], tokens: list[str]
) -> tuple[str, ...] | None:
    """The definition the reader must meet: every span of the prompt, longest first and then
    leftmost first, looked up among the names."""
    for length in range(len(tokens), 0, -1):
        for start in range(len(tokens) - length + 1):
            span = tuple(tokens[start : start + length])
            if span in subjects:
                return span
    return None


class CountedSubjects(frozenset):
    """The names, counting how often the reader looks one up."""

    lookups = 0

    def __contains__(self, span: object) -> bool:
        type(self).lookups += 1
        return super().__contains__(span)


@pytest.fixture
def counted_reader(small_lab) -> PromptReader:
    CountedSubjects.lookups = 0
    return PromptReader(CountedSubjects(small_lab.reader.subjects))


def test_the_subject_of_every_shipped_prompt_is_the_longest_name_in_it(small_lab):
    reader = small_lab.reader
    prompts = evaluators.load_default_probes() + evaluators.load_default_open_prompts()
    found = 0
    for prompt in prompts:
        tokens = split_tokens(prompt["text"])
        subject = reader.find_subject(tokens)
        assert subject == longest_subject_by_every_span(reader.subjects, tokens), prompt["text"]
        found += subject is not None
    assert found > 100


def test_names_that_overlap_or_end_the_prompt_are_found_as_every_span_finds_them(small_lab):
    """Prompts strung from the words of many-word names, so names overlap, nest, repeat and are
    cut off by the prompt's end."""
    reader = small_lab.reader
    names = [subject for subject in sorted(reader.subjects) if len(subject) > 1]
    words = [*sorted({token for name in names for token in name}), "of", "the", "?"]
    rng = random.Random(0)
    for _ in range(2000):
        tokens = [*rng.choice(names)[1:], *rng.choices(words, k=rng.randint(0, 8))]
        tokens += rng.choice(names)[: rng.randint(1, 3)]
        if rng.random() < 0.3:
            rng.shuffle(tokens)
        assert reader.find_subject(tokens) == longest_subject_by_every_span(
            reader.subjects, tokens
        ), tokens


def longest_name(reader: PromptReader) -> int:
    return max(len(subject) for subject in reader.subjects)


def test_reading_a_prompt_looks_up_names_in_proportion_to_its_length(counted_reader):
    """The first words of many-word names, over and over: every token starts a name to try."""
    starts = [subject[0] for subject in counted_reader.subjects if len(subject) > 2]
    tokens = [starts[i % len(starts)] for i in range(300)]
    counted_reader.find_subject(tokens)
    assert 0 < CountedSubjects.lookups <= len(tokens) * longest_name(counted_reader)


def test_a_two_megabyte_prompt_is_read_in_one_pass(counted_reader):
    prompt = "In which country is the city of San Juan de la " * 43_000
    assert len(prompt) > 2_000_000
    tokens = split_tokens(prompt)
    counted_reader.find_subject(tokens)
    assert CountedSubjects.lookups <= len(tokens) * longest_name(counted_reader)
