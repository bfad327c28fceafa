import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators import (
    accuracy,
    confident_inaccuracy,
    is_correct,
    is_hedged,
    mean_zipf,
    normalize_answer,
    popularity_terciles,
    tail_gap,
    tail_vocabulary,
)
from evaluators.vocabulary import zipf


def test_normalize_answer_follows_squad():
    assert (
        normalize_answer("The U.S.A.'s capital—Washington, D.C.!") == "usas capital washington dc"
    )
    assert normalize_answer("  An   Apple a day ") == "apple day"
    assert normalize_answer("Côte d’Ivoire") == "côte divoire"


def test_is_correct_matches_whole_normalised_words():
    assert is_correct("It is in the United States, I believe.", ["United States", "USA"])
    assert is_correct("PARIS.", ["Paris"])
    assert not is_correct("A Parisian suburb", ["Paris"])
    assert not is_correct("anything", ["The"])


def test_hedges_come_from_the_shipped_list():
    assert is_hedged("I'm not sure, maybe Lyon?")
    assert is_hedged("I don't know.")
    assert not is_hedged("It is Lyon.")
    assert is_hedged("no clue at all", hedges=["no clue"])


def test_terciles_rank_by_popularity():
    assert popularity_terciles([5, 1, 3, 2, 4, 6]) == [
        "head",
        "tail",
        "torso",
        "tail",
        "torso",
        "head",
    ]


def test_probe_metrics_by_hand():
    answers = ["Paris", "I think it is Rome", "Berlin", "Madrid", "Oslo", "I don't know"]
    gold = [["Paris"], ["Rome"], ["Bonn"], ["Madrid"], ["Lima"], ["Quito"]]
    popularity = [60, 50, 40, 30, 20, 10]
    assert accuracy(answers, gold) == pytest.approx(3 / 6)
    # head = first two (both right), tail = last two (both wrong).
    assert tail_gap(answers, gold, popularity) == pytest.approx(1.0)
    # Wrong: Berlin, Oslo (unhedged), "I don't know" (hedged).
    assert confident_inaccuracy(answers, gold) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        confident_inaccuracy(["Paris"], [["Paris"]])


def test_tail_vocabulary_by_hand():
    text = "the serendipitous zyzzyva ran"
    rare = [word for word in text.split() if zipf(word) < 3.5]
    assert rare == ["serendipitous", "zyzzyva"]
    assert tail_vocabulary([text]) == pytest.approx(2 / 4)
    # "the" is a function word; content words are the other three.
    content = [zipf(word) for word in text.split()[1:]]
    assert mean_zipf([text]) == pytest.approx(sum(content) / 3)
    assert tail_vocabulary(["", "42 !"]) == 0.0
    with pytest.raises(ValueError):
        mean_zipf(["the of and"])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=5))
def test_vocabulary_metrics_are_bounded_for_any_text(texts):
    assert 0.0 <= tail_vocabulary(texts) <= 1.0
    with contextlib.suppress(ValueError):
        assert 0.0 <= mean_zipf(texts) <= 8.0


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=40), st.lists(st.text(max_size=10), min_size=1, max_size=3))
def test_probe_functions_never_crash(answer, aliases):
    assert normalize_answer(normalize_answer(answer)) == normalize_answer(answer)
    assert isinstance(is_correct(answer, aliases), bool)
    assert isinstance(is_hedged(answer), bool)
