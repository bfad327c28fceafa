import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from synthetic_text import BagOfWordsEncoder, zipf_texts

from evaluators import METRIC_KEYS, METRICS, Batch, Report, score
from evaluators.embedding import normalize_rows
from evaluators.length import cut
from evaluators.report import batch_features

LEXICAL = ["distinct_1", "distinct_2", "distinct_3", "distinct_4", "rep_4", "phrase_repetition"]
PROBE_KEYS = {
    "rare_entity_accuracy",
    "accuracy_head",
    "accuracy_torso",
    "accuracy_tail",
    "tail_gap",
    "confident_inaccuracy",
}


def assert_well_formed(report: Report) -> None:
    document = json.loads(report.to_json())
    assert set(document) == {"metrics", "prompts", "counts", "lengths"}
    assert set(document["metrics"]) <= set(METRIC_KEYS)
    for key, metric in document["metrics"].items():
        assert set(metric) == {"value", "ci_low", "ci_high", "n"}
        if metric["ci_low"] is not None:
            assert metric["ci_low"] <= metric["value"] <= metric["ci_high"], key


def probe_batch() -> Batch:
    rows = []
    answers = {"Paris": ("France", 2e6), "Lyon": ("France", 5e5), "Tulle": ("France", 1e4)}
    for city, (country, population) in answers.items():
        for text in (country, "I'm not sure, maybe Spain", "Spain"):
            rows.append(
                {"prompt_id": city, "text": text, "gold": [country], "popularity": population}
            )
    return Batch.from_rows(rows)


def test_score_reports_every_metric_with_intervals_containing_the_estimate(
    make_batch, fake_encoder
):
    report = score(make_batch(prompts=30), encoder=fake_encoder)
    assert_well_formed(report)
    assert set(report.metrics) == set(METRIC_KEYS) - PROBE_KEYS
    assert report.counts["prompts"] == 30 and report.counts["outputs"] == 90
    first = report.prompts["p0"]
    assert first["n_samples"] == 3
    assert {"distinct_2", "self_bleu", "vendi_within", "tail_vocabulary"} <= set(first["metrics"])


def test_rescoring_gives_the_same_figures(make_batch, fake_encoder):
    batch = make_batch(prompts=25)
    assert (
        score(batch, encoder=fake_encoder).to_dict() == score(batch, encoder=fake_encoder).to_dict()
    )


def test_probe_metrics_by_hand():
    report = score(probe_batch(), embed=False)
    assert_well_formed(report)
    values = report.values()
    assert values["rare_entity_accuracy"] == pytest.approx(1 / 3)
    assert values["tail_gap"] == pytest.approx(0.0)
    assert values["confident_inaccuracy"] == pytest.approx(1 / 2)
    assert report.prompts["Paris"]["tercile"] == "head"
    assert report.prompts["Tulle"]["tercile"] == "tail"
    assert report.metrics["accuracy_tail"].n == 1
    assert not any(key.startswith(("embedding", "vendi")) for key in values)


def test_precomputed_embeddings_replace_encoding_the_full_outputs(make_batch, fake_encoder):
    batch = make_batch(prompts=10)
    embeddings = fake_encoder.encode(batch.texts)
    encoded: list[str] = []

    class CountingEncoder:
        def encode(self, texts):
            encoded.extend(texts)
            return fake_encoder.encode(texts)

    with_rows = score(Batch(batch.prompts, embeddings), encoder=CountingEncoder())
    assert with_rows.values() == score(batch, encoder=fake_encoder).values()
    # Only the outputs cut to the length-matching window were encoded, not the full ones.
    window = batch.natural_window
    assert encoded == [cut(text, window) for text in batch.texts if cut(text, window) != text]


def test_each_distinct_text_is_encoded_once_an_output_within_the_window_being_its_own_cut(
    fake_encoder,
):
    rng = np.random.default_rng(3)
    window = 10
    long_texts = zipf_texts(rng, 5000, 20, 40)
    short_texts = zipf_texts(rng, 5000, 20, 3)
    # Outputs shorter than the window, and one that is another's cut.
    texts = long_texts + short_texts + [cut(long_texts[0], window)]
    rows = [{"prompt_id": f"p{i % 10}", "text": text} for i, text in enumerate(texts)]
    batch = Batch.from_rows(rows)
    encoded: list[str] = []

    class CountingEncoder:
        def encode(self, texts):
            encoded.extend(texts)
            return fake_encoder.encode(texts)

    features = batch_features([batch], window, CountingEncoder(), embed=True)

    cut_texts = [cut(text, window) for text in batch.texts]
    assert Counter(encoded) == Counter(set(batch.texts) | set(cut_texts))
    np.testing.assert_allclose(
        features.windowed.unit_embeddings, normalize_rows(fake_encoder.encode(cut_texts))
    )


@pytest.mark.parametrize(
    "texts",
    [
        ["", "", ""],
        ["word", "word", "other"],
        ["Это пример текста на русском языке.", "日本語のテキストです。", "نص عربي قصير"],
        ["valid \ufffd\ufffd replacement \ufffd", "\ufffd", "ok"],
        ["lorem ipsum dolor sit amet " * 4000, "x", "short text"],
    ],
    ids=["empty", "one-word", "non-english", "replacement-chars", "100kB"],
)
def test_awkward_outputs_give_finite_results(texts, fake_encoder):
    rows = [{"prompt_id": f"p{i % 2}", "text": text} for i, text in enumerate(texts * 2)]
    report = score(Batch.from_rows(rows), encoder=fake_encoder)
    assert_well_formed(report)
    assert {"distinct_1", "rep_4", "self_bleu", "tail_vocabulary"} <= set(report.metrics)


def test_a_batch_of_one_output(fake_encoder):
    report = score(Batch.from_rows([("only", "just one answer here")]), encoder=fake_encoder)
    assert_well_formed(report)
    assert "self_bleu" not in report.metrics
    assert "embedding_diversity_within" not in report.metrics
    assert report.metrics["distinct_1"].value == 1.0
    assert report.metrics["distinct_1"].ci_low is None


def test_baseline_anchors_the_blandness_index(make_batch, fake_encoder):
    healthy = score(make_batch(seed=1, prompts=20), encoder=fake_encoder)
    collapsed = score(make_batch(seed=2, prompts=20, vocabulary_size=50), encoder=fake_encoder)
    assert score(make_batch(seed=1, prompts=20), encoder=fake_encoder, baseline=healthy).values()[
        "blandness_index"
    ] == pytest.approx(0.0)
    assert collapsed.values()["blandness_index"] > healthy.values()["blandness_index"]
    assert Report.from_dict(json.loads(healthy.to_json())) == healthy


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "at least one prompt"),
        ([{"prompt_id": "a", "text": 3}], "text must be a string"),
        ([{"prompt_id": None, "text": "x"}], "prompt_id"),
        ([{"prompt_id": "a", "text": "x", "gold": "Paris"}], "gold"),
        ([{"prompt_id": "a", "text": "x", "popularity": float("nan")}], "popularity"),
        (
            [{"prompt_id": "a", "text": "x", "gold": ["A"]}, {"prompt_id": "a", "text": "y"}],
            "differs",
        ),
    ],
)
def test_from_rows_rejects_malformed_rows(rows, message):
    with pytest.raises(ValueError, match=message):
        Batch.from_rows(rows)


def test_from_rows_groups_rows_and_reorders_embeddings():
    rows = [("b", "one"), ("a", "two"), ("b", "three")]
    batch = Batch.from_rows(rows, embeddings=np.array([[1.0], [2.0], [3.0]]))
    assert [prompt.prompt_id for prompt in batch.prompts] == ["b", "a"]
    assert batch.texts == ("one", "three", "two")
    assert batch.embeddings.ravel().tolist() == [1.0, 3.0, 2.0]


# The report of a seeded batch, pinned: a change that makes scoring faster must leave every figure
# of it (metrics, intervals, per-prompt breakdown, counts, lengths) as it was.
SEEDED_REPORT = Path(__file__).parent / "data" / "seeded_report.json"


def uneven_batch(seed: int) -> Batch:
    """Open prompts with one to six samples of uneven length, and factual probes with gold
    answers and popularities, so that every metric and every per-prompt entry is defined."""
    rng = np.random.default_rng(seed)
    rows = []
    for prompt in range(40):
        for text in zipf_texts(rng, 3_000, int(rng.integers(1, 7)), int(rng.integers(5, 60))):
            rows.append({"prompt_id": f"open-{prompt}", "text": text})
    for probe, (answer, popularity) in enumerate(
        [("Paris", 2e6), ("Lyon", 5e5), ("Tulle", 1e4), ("Nice", 3e5), ("Brest", 1.4e5)]
    ):
        for text in (f"It is {answer}.", "I am not sure, maybe Spain.", answer, "Madrid"):
            rows.append(
                {
                    "prompt_id": f"probe-{probe}",
                    "text": text,
                    "gold": [answer],
                    "popularity": popularity,
                }
            )
    return Batch.from_rows(rows)


def flat(document, prefix=""):
    """Every leaf of a nested report document, by its path."""
    if isinstance(document, dict):
        return {
            path: value
            for key, child in document.items()
            for path, value in flat(child, f"{prefix}/{key}").items()
        }
    return {prefix: document}


def seeded_report() -> dict:
    report = score(uneven_batch(1), baseline=uneven_batch(2), encoder=BagOfWordsEncoder())
    return json.loads(report.to_json())


def test_the_report_of_a_seeded_batch_is_unchanged():
    expected = flat(json.loads(SEEDED_REPORT.read_text()))
    measured = flat(seeded_report())
    assert measured.keys() == expected.keys()
    for path, value in expected.items():
        if isinstance(value, float):
            value = pytest.approx(value, rel=1e-9, abs=1e-12)
        assert measured[path] == value, path


def test_each_prompts_breakdown_equals_the_metric_on_that_prompt_alone():
    features = batch_features([uneven_batch(1)], 9, BagOfWordsEncoder(), embed=True)
    one_prompt_each = np.eye(features.n_prompts, dtype=bool)
    for key, metric in METRICS.items():
        if metric.per_prompt and metric.evaluate:
            np.testing.assert_array_equal(
                metric.per_prompt(features), metric.evaluate(features, one_prompt_each), key
            )
