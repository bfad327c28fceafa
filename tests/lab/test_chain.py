"""The generation loop: deterministic, cached on disk, and served by model id."""

import numpy as np
import pytest

from lab import Arm, Lab, model_id, parse_model_id
from lab.ngram import NgramModel
from tests.conftest import SMALL_LAB_CONFIG


def _same_model(a: NgramModel, b: NgramModel) -> bool:
    top_a, top_b = a.levels[-1], b.levels[-1]
    return np.array_equal(top_a.gram_keys, top_b.gram_keys) and np.array_equal(
        top_a.counts, top_b.counts
    )


def test_the_same_seed_trains_the_same_generations(small_lab):
    again = Lab(SMALL_LAB_CONFIG)
    assert _same_model(small_lab.model(Arm.PURE, 2), again.model(Arm.PURE, 2))
    assert not _same_model(small_lab.model(Arm.PURE, 2), small_lab.model(Arm.ANCHORED, 2))


def test_each_generation_is_trained_on_as_many_sentences_as_the_original(small_lab):
    previous = small_lab.model(Arm.ANCHORED, 1)
    corpus = small_lab.training_corpus(Arm.ANCHORED, 2, previous)
    assert len(corpus) == len(small_lab.original)
    anchors = corpus[-round(SMALL_LAB_CONFIG.anchor_share * len(corpus)) :]
    original = {tuple(sentence) for sentence in small_lab.original}
    assert all(tuple(sentence) in original for sentence in anchors)


def test_trained_generations_are_read_back_from_disk(tmp_path, monkeypatch):
    first = Lab(SMALL_LAB_CONFIG, tmp_path)
    trained = first.model(Arm.ANCHORED, 2)
    files = sorted(path.name for path in tmp_path.glob("*/*.npz"))
    assert files == ["anchored-g1.npz", "anchored-g2.npz", "pure-g0.npz"]
    assert not list(tmp_path.glob("*/*.tmp")), "no temporary file is left behind"

    monkeypatch.setattr(NgramModel, "train", _no_training)
    assert _same_model(Lab(SMALL_LAB_CONFIG, tmp_path).model(Arm.ANCHORED, 2), trained)


def _no_training(*args, **kwargs):
    raise AssertionError("a generation was trained")


def test_a_served_generation_is_read_when_trained_and_never_trained(tmp_path, monkeypatch):
    served = Lab(SMALL_LAB_CONFIG, tmp_path)
    assert served.trained_lab_model(Arm.PURE, 1) is None
    trained = Lab(SMALL_LAB_CONFIG, tmp_path).model(Arm.PURE, 1)  # as another process does
    monkeypatch.setattr(NgramModel, "train", _no_training)
    assert _same_model(served.trained_lab_model(Arm.PURE, 1).model, trained)
    assert served.trained_lab_model(Arm.PURE, 2) is None
    with pytest.raises(ValueError, match="from 0 to 20"):
        served.trained_lab_model(Arm.PURE, 21)


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("lab-pure-g3", (Arm.PURE, 3)),
        ("lab-anchored-g0", (Arm.ANCHORED, 0)),
        ("lab-truncated-g20", (Arm.TRUNCATED, 20)),
        ("lab-pure-g21", None),
        ("lab-mixed-g1", None),
        ("gpt-4o", None),
    ],
)
def test_model_ids_name_an_arm_and_a_generation(name, parsed):
    assert parse_model_id(name) == parsed
    if parsed:
        assert model_id(*parsed) == name
