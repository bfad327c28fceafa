import numpy as np
import pytest
import sentence_transformers
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from evaluators import cross_group_cosine_distance, mean_pairwise_cosine_distance, vendi_score
from evaluators.embedding import SentenceTransformerEncoder
from evaluators.features import Features, PromptOutputs

ROWS = arrays(
    np.float64,
    st.tuples(st.integers(1, 8), st.integers(2, 6)),
    elements=st.floats(-1, 1, allow_nan=False).filter(lambda x: abs(x) > 1e-3),
)


def test_orthogonal_and_identical_rows_by_hand():
    assert vendi_score(np.eye(4)) == pytest.approx(4.0)
    assert mean_pairwise_cosine_distance(np.eye(4)) == pytest.approx(1.0)
    assert vendi_score(np.ones((5, 3))) == pytest.approx(1.0)
    assert mean_pairwise_cosine_distance(np.ones((5, 3))) == pytest.approx(0.0, abs=1e-12)
    # Two unit vectors at 60 degrees: distance 1 - 1/2; K/2 has eigenvalues 3/4 and 1/4.
    rows = np.array([[1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    assert mean_pairwise_cosine_distance(rows) == pytest.approx(0.5)
    entropy = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert vendi_score(rows) == pytest.approx(np.exp(entropy))


def test_cross_group_distance_matches_brute_force():
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(12, 5))
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3])
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    pairs = [1 - unit[i] @ unit[j] for i in range(12) for j in range(12) if groups[i] != groups[j]]
    assert cross_group_cosine_distance(rows, groups) == pytest.approx(np.mean(pairs))


def test_degenerate_inputs_raise_value_error():
    with pytest.raises(ValueError):
        mean_pairwise_cosine_distance(np.ones((1, 3)))
    with pytest.raises(ValueError):
        vendi_score(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        cross_group_cosine_distance(np.ones((3, 2)), np.zeros(3))


@settings(max_examples=40, deadline=None)
@given(ROWS)
def test_vendi_lies_between_one_and_n(rows):
    value = vendi_score(rows)
    assert 1.0 - 1e-9 <= value <= len(rows) + 1e-9


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 10), arrays(np.float64, 4, elements=st.floats(0.1, 1)))
def test_vendi_of_k_identical_embeddings_is_one(k, row):
    assert vendi_score(np.tile(row, (k, 1))) == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(ROWS.filter(lambda rows: len(rows) >= 2))
def test_pairwise_distance_is_within_zero_and_two(rows):
    assert -1e-9 <= mean_pairwise_cosine_distance(rows) <= 2 + 1e-9


def test_real_model_finds_paraphrases_closer_than_unrelated_text(real_encoder):
    paraphrases = real_encoder.encode(
        [
            "The cat is sleeping on the sofa.",
            "A cat naps on the couch.",
            "On the sofa, a cat sleeps.",
        ]
    )
    unrelated = real_encoder.encode(
        ["The stock market fell sharply.", "A cat naps on the couch.", "Volcanoes erupt lava."]
    )
    assert paraphrases.shape == (3, 384)
    assert mean_pairwise_cosine_distance(paraphrases) < mean_pairwise_cosine_distance(unrelated)
    assert vendi_score(paraphrases) < vendi_score(unrelated)


def test_real_model_embeds_duplicates_identically(real_encoder):
    rows = real_encoder.encode(["same", "other", "same"])
    assert np.array_equal(rows[0], rows[2])


def test_identical_embeddings_are_exactly_zero_apart_not_a_rounding_error_below():
    rows = np.tile(np.random.default_rng(3).normal(size=(1, 384)), (5, 1))
    assert mean_pairwise_cosine_distance(rows) == 0.0
    assert cross_group_cosine_distance(rows, np.array([0, 0, 1, 1, 2])) == 0.0


def test_variety_within_a_prompt_is_measured_on_the_open_prompts_when_there_are_any():
    # An open prompt's two samples are orthogonal (distance 1, Vendi 2); a probe's two answers
    # point opposite ways (distance 2, Vendi 1): they disagree, which is forgetting, not variety.
    open_prompt = PromptOutputs("open", ("a story", "a poem"))
    probe = PromptOutputs("probe", ("France", "Spain"), gold=("France",))
    rows = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    mixed = Features.build([open_prompt, probe], rows)
    assert mixed.within_distance.tolist()[0] == pytest.approx(1.0)
    assert mixed.within_vendi.tolist()[0] == pytest.approx(2.0)
    assert np.isnan(mixed.within_distance[1]) and np.isnan(mixed.within_vendi[1])
    probes_only = Features.build([probe], rows[2:])
    assert probes_only.within_distance.tolist() == pytest.approx([2.0])
    assert probes_only.within_vendi.tolist() == pytest.approx([1.0])


def test_the_encoder_sets_torchs_threads_before_encoding(real_encoder):
    threads_before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        SentenceTransformerEncoder(threads=1).encode(["one thread"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads_before)


def test_a_cuda_device_is_refused_with_a_clear_error_where_torch_finds_none(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="'cuda' asked for, but torch finds no CUDA device"):
        SentenceTransformerEncoder(device="cuda")


@pytest.mark.parametrize(("cuda_found", "device"), [(True, "cuda"), (False, "cpu")])
def test_auto_takes_the_gpu_where_torch_finds_one_and_the_cpu_elsewhere(
    monkeypatch, cuda_found, device
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda_found)
    assert SentenceTransformerEncoder(device="auto").device == device


@pytest.mark.parametrize(
    ("options", "message"),
    [({"device": "tpu"}, "'cpu', 'auto' or a CUDA device"), ({"threads": 0}, "at least 1")],
)
def test_an_unknown_device_or_no_thread_is_refused(options, message):
    with pytest.raises(ValueError, match=message):
        SentenceTransformerEncoder(**options)


def test_the_device_reaches_the_model(monkeypatch, tmp_path):
    loaded = []

    class FakeSentenceTransformer:
        def __init__(self, path, device):
            loaded.append((path, device))

        def encode(self, texts, **_):
            return np.ones((len(texts), 3))

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", FakeSentenceTransformer)
    SentenceTransformerEncoder(str(tmp_path), device="cuda").encode(["a", "b"])
    assert loaded == [(str(tmp_path), "cuda")]
