import json
from collections import Counter

import pytest

from evaluators import Batch, load_default_open_prompts, load_default_probes, popularity_terciles
from evaluators.__main__ import main


@pytest.fixture
def outputs_file(tmp_path, make_batch):
    path = tmp_path / "outputs.jsonl"
    rows = [
        {"prompt_id": prompt.prompt_id, "text": text}
        for prompt in make_batch(prompts=8).prompts
        for text in prompt.texts
    ]
    rows.append({"prompt_id": "q", "text": "It is France.", "gold": ["France"], "popularity": 7})
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


def test_cli_prints_a_metric_table(outputs_file, capsys):
    assert main([str(outputs_file), "--no-embeddings"]) == 0
    table = capsys.readouterr().out
    assert "distinct_2" in table and "rare_entity_accuracy" in table and "95% CI" in table


def test_cli_json_with_comparison(outputs_file, capsys):
    assert (
        main([str(outputs_file), "--against", str(outputs_file), "--json", "--no-embeddings"]) == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"metrics", "prompts", "counts", "lengths", "comparison"}
    change = document["comparison"]["distinct_2"]
    assert set(change) == {
        "baseline",
        "candidate",
        "delta",
        "p_value",
        "significant",
        "baseline_noise",
    }
    assert change["delta"] == 0 and not change["significant"]


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ('{"prompt_id": "a", "text": "x"}\nnot json\n', 2),
        ('{"prompt_id": "a", "text": "x"}\n\n["a list"]\n', 3),
        ('{"prompt_id": "a"}\n', 1),
        ('{"prompt_id": "a", "text": "x", "gold": [1]}\n', 1),
    ],
)
def test_cli_rejects_malformed_lines_with_status_2(tmp_path, capsys, content, line):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    assert main([str(path), "--no-embeddings"]) == 2
    assert f"line {line}:" in capsys.readouterr().err


def test_cli_reads_invalid_utf8_as_replacement_characters(tmp_path, capsys):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(
        b'{"prompt_id": "a", "text": "caf\xe9 au lait"}\n{"prompt_id": "a", "text": "tea"}\n'
    )
    assert main([str(path), "--no-embeddings", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["outputs"] == 2


def test_default_probe_set_spans_head_torso_and_tail():
    probes = load_default_probes()
    assert len(probes) >= 500
    assert len({probe["id"] for probe in probes}) == len(probes)
    for probe in probes:
        assert probe["kind"] == "probe" and probe["text"].endswith("?")
        assert probe["gold"] and all(isinstance(alias, str) and alias for alias in probe["gold"])
        assert probe["popularity"] > 0 and probe["entity"]["type"] in {"city", "country"}
    terciles = Counter(popularity_terciles([probe["popularity"] for probe in probes]))
    assert min(terciles.values()) >= len(probes) // 3
    rows = [(probe["id"], probe["gold"][0], probe["gold"], probe["popularity"]) for probe in probes]
    assert len(Batch.from_rows(rows).prompts) == len(probes)


def test_default_open_prompts_are_varied():
    prompts = load_default_open_prompts()
    assert len(prompts) >= 100
    assert len({prompt["text"] for prompt in prompts}) == len(prompts)
    assert {prompt["kind"] for prompt in prompts} == {"open"}


def test_build_script_reproduces_the_shipped_files(tmp_path):
    import importlib.util
    from importlib import resources
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "build_probe_set.py"
    spec = importlib.util.spec_from_file_location("build_probe_set", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    shipped = resources.files("evaluators").joinpath("data")
    for name in ("probes.jsonl", "open_prompts.jsonl"):
        assert (tmp_path / name).read_text("utf-8") == shipped.joinpath(name).read_text("utf-8")
