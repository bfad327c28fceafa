"""The alert policy and the CLI gate on the project's own prose: collapse is flagged from its
first generation, whatever the answers' length; independent draws and verbosity are not."""

import json

import pytest
from synthetic_text import BagOfWordsEncoder

from evaluators import Batch, compare
from evaluators.__main__ import main
from evaluators.metrics import METRICS
from evaluators.policy import DEFAULT_POLICY, regressed_metrics
from lab import prose

IDS = prose.prompt_ids(0)


@pytest.fixture(scope="module")
def chain():
    return prose.chain(0, 2, ids=IDS)


def verdict(baseline, candidate) -> list[str]:
    return list(
        regressed_metrics(Batch.from_rows(baseline), Batch.from_rows(candidate), embed=False)
    )


def test_the_first_generation_of_collapse_is_flagged(chain):
    assert "distinct_2_matched" in verdict(chain[0], chain[1])


def test_two_independent_draws_of_one_source_are_not(chain):
    assert verdict(prose.draw(1, ids=IDS), prose.draw(2, ids=IDS)) == []


def test_longer_answers_from_the_same_source_fire_nothing_though_the_raw_signs_move():
    short, long = prose.draw(1, ids=IDS), prose.draw(2, ids=IDS, words=60)
    assert verdict(short, long) == []
    raw = compare(Batch.from_rows(short), Batch.from_rows(long), ["distinct_2"], embed=False)
    assert raw["distinct_2"].significant and raw["distinct_2"].delta < 0


def test_a_collapsed_generation_cut_to_half_its_length_still_fires(chain):
    flagged = verdict(chain[0], prose.halve(chain[2]))
    assert {"distinct_2_matched", "tail_types_matched"} <= set(flagged)


def test_a_run_against_itself_at_half_length_changes_no_length_matched_metric(chain):
    matched = [key for key, metric in METRICS.items() if metric.length_matched]
    result = compare(
        Batch.from_rows(chain[0]),
        Batch.from_rows(prose.halve(chain[0])),
        matched,
        encoder=BagOfWordsEncoder(),
    )
    assert set(result) == set(matched)
    assert [key for key, change in result.items() if change.significant] == []


def test_the_noise_floor_follows_each_metrics_own_spread(chain):
    result = DEFAULT_POLICY.compare(
        Batch.from_rows(chain[0]), Batch.from_rows(chain[1]), embed=False
    )
    noise = {key: change.baseline_noise for key, change in result.items()}
    assert 0 < noise["distinct_2_matched"] < 0.1 < 1 < noise["tail_types_matched"]


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_the_gate_fails_on_regression_and_passes_otherwise(tmp_path, chain, capsys):
    g0 = write_jsonl(tmp_path / "g0.jsonl", chain[0])
    g1 = write_jsonl(tmp_path / "g1.jsonl", chain[1])
    other = write_jsonl(tmp_path / "draw.jsonl", prose.draw(3, ids=IDS, words=60))
    gate = ["--fail-on-regression", "--no-embeddings"]
    assert main([g1, "--against", g0, *gate]) == 1
    assert "regression: distinct_2_matched" in capsys.readouterr().out
    assert main([other, "--against", g0, *gate]) == 0
    assert "no regression" in capsys.readouterr().out


def test_a_model_that_answers_nothing_fails_the_gate(tmp_path, chain, capsys):
    # Empty answers have no length to match: they must not shrink the shared window to one
    # token, where no length-matched sign can move, so that a mute model passes the gate.
    g0 = write_jsonl(tmp_path / "g0.jsonl", chain[0])
    mute = write_jsonl(tmp_path / "mute.jsonl", [{**row, "text": ""} for row in chain[0]])
    some = [{**row, "text": "" if i % 7 == 0 else row["text"]} for i, row in enumerate(chain[2])]
    some_mute = write_jsonl(tmp_path / "some_mute.jsonl", some)
    gate = ["--fail-on-regression", "--no-embeddings"]
    assert main([mute, "--against", g0, *gate]) == 1
    assert "regression: distinct_2_matched" in capsys.readouterr().out
    assert main([some_mute, "--against", g0, *gate]) == 1
    assert "tail_types_matched" in capsys.readouterr().out


def test_the_gate_refuses_malformed_input_naming_the_line(tmp_path, chain, capsys):
    g0 = write_jsonl(tmp_path / "g0.jsonl", chain[0])
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt_id": "a", "text": "fine"}\n{"prompt_id": "a", "text": \n')
    assert main([str(broken), "--against", g0, "--fail-on-regression", "--no-embeddings"]) == 2
    assert "line 2" in capsys.readouterr().err


def test_the_blandness_row_has_value_baseline_and_delta_from_one_reference(tmp_path, chain, capsys):
    g0 = write_jsonl(tmp_path / "g0.jsonl", chain[0])
    g1 = write_jsonl(tmp_path / "g1.jsonl", chain[1])
    assert main([g1, "--against", g0, "--json", "--no-embeddings", "--fail-on-regression"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert "blandness_index" in document["regressed"]
    row = document["comparison"]["blandness_index"]
    assert row["baseline"] == 0
    assert document["metrics"]["blandness_index"]["value"] == pytest.approx(row["candidate"])
    assert row["delta"] == pytest.approx(row["candidate"] - row["baseline"])
