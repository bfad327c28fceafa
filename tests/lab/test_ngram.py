"""The n-gram model: a proper distribution, samples drawn only from what was seen, storage."""

import numpy as np
import pytest

from lab.ngram import BOS, EOS, NgramModel
from lab.text import Vocabulary, join_tokens, split_tokens

ORDER = 4
SENTENCES = [
    "Surat is in India.",
    "Surat lies in India.",
    "Paris is in France.",
    "Paris is in France.",
    "Lyon is in France.",
]


@pytest.fixture
def vocabulary() -> Vocabulary:
    return Vocabulary.of_texts([*SENTENCES, "Oslo"])


@pytest.fixture
def model(vocabulary) -> NgramModel:
    return NgramModel.train([vocabulary.encode(s) for s in SENTENCES], ORDER, len(vocabulary))


def test_probabilities_after_any_context_sum_to_one(model, vocabulary):
    words = np.arange(1, len(vocabulary))  # every token but the sentence start
    for context in ([BOS] * 3, vocabulary.encode("Surat is in"), vocabulary.encode("Oslo is in")):
        contexts = np.tile(context, (len(words), 1))
        assert model.probabilities(contexts, words).sum() == pytest.approx(1.0)


def test_samples_recombine_seen_ngrams_and_nothing_else(model, vocabulary):
    rng = np.random.default_rng(0)
    sentences = model.generate([[]] * 200, rng, 20)
    seen = [vocabulary.encode(s) for s in SENTENCES]
    assert {tuple(s) for s in seen} & {tuple(s) for s in sentences}
    seen_ngrams = set().union(*map(_ngrams, seen))
    for sentence in sentences:
        assert _ngrams(sentence) <= seen_ngrams, vocabulary.decode(sentence)
    assert vocabulary.encode("Oslo")[0] not in {token for s in sentences for token in s}


def _ngrams(sentence: list[int]) -> set[tuple[int, ...]]:
    padded = [BOS] * (ORDER - 1) + [*sentence, EOS]
    return {tuple(padded[i - ORDER + 1 : i + 1]) for i in range(ORDER - 1, len(padded))}


def test_a_continuation_follows_the_facts_it_was_taught(model, vocabulary):
    rng = np.random.default_rng(1)
    replies = model.generate([vocabulary.encode("Paris is")] * 50, rng, 5)
    assert {vocabulary.decode(reply) for reply in replies} == {"in France."}


def test_nucleus_sampling_draws_only_the_likeliest_words():
    # After "Paris is in" the model saw "France" 9 times and "Texas" once: the nucleus of
    # top-p 0.5 holds "France" alone, while untruncated sampling draws both.
    sentences = ["Paris is in France."] * 9 + ["Paris is in Texas."]
    known = Vocabulary.of_texts(sentences)
    trained = NgramModel.train([known.encode(s) for s in sentences], ORDER, len(known))
    prefixes = [known.encode("Paris is in")] * 400

    def answers(top_p: float) -> set[str]:
        replies = trained.generate(prefixes, np.random.default_rng(2), 2, top_p)
        return {known.decode(reply) for reply in replies}

    assert answers(1.0) == {"France.", "Texas."}
    assert answers(0.5) == {"France."}


def test_unseen_text_has_a_finite_perplexity_higher_than_seen_text(model, vocabulary):
    seen = [vocabulary.encode(s) for s in SENTENCES]
    unseen = [vocabulary.encode("Oslo is in India.")]
    assert 1 < model.perplexity(seen) < model.perplexity(unseen) < np.inf


def test_a_saved_model_loads_identical(model, tmp_path, vocabulary):
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = NgramModel.load(path)
    contexts = np.array([[BOS] * (ORDER - 1)] * (len(vocabulary) - 1))
    words = np.arange(1, len(vocabulary))
    np.testing.assert_array_equal(
        loaded.probabilities(contexts, words), model.probabilities(contexts, words)
    )


def test_text_round_trips_through_tokens():
    text = "Ecatepec de Morelos (Mexico) has about 2 million inhabitants."
    assert join_tokens(split_tokens(text)) == text


def test_a_low_temperature_draws_the_likeliest_words_more_often():
    # Sampling at temperature T draws each word in proportion to its probability to the power
    # 1 / T: at 0.5, "Texas" (seen once after "Paris is in", against "France" nine times) is
    # drawn with probability p_T² / (p_F² + p_T²) of the model's own smoothed probabilities.
    sentences = ["Paris is in France."] * 9 + ["Paris is in Texas."]
    known = Vocabulary.of_texts(sentences)
    trained = NgramModel.train([known.encode(s) for s in sentences], ORDER, len(known))
    context = np.array([known.encode("Paris is in")] * 2)
    p_france, p_texas = trained.probabilities(context, np.array(known.encode("France Texas")))
    draws = 20_000
    prefixes = [known.encode("Paris is in")] * draws

    def texas_share(temperature: float) -> float:
        replies = trained.generate(prefixes, np.random.default_rng(3), 1, temperature=temperature)
        return sum(known.decode(reply) == "Texas" for reply in replies) / draws

    for temperature in (1.0, 0.5):
        power = 1 / temperature
        expected = p_texas**power / (p_france**power + p_texas**power)
        tolerance = 4 * (expected / draws) ** 0.5
        assert texas_share(temperature) == pytest.approx(expected, abs=tolerance)
    assert texas_share(0.5) < texas_share(1.0) / 2
