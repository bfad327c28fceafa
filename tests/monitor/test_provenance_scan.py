"""The provenance scan: near-copies of stored outputs, internal duplicates, the filtered corpus,
malformed lines, and the index that grows as runs finish."""

import json
import random

import pytest
from django.core.management import CommandError, call_command

from monitor.models import OutputIndexStats, OutputSignature
from monitor.services import corpus_signs, provenance_index, scans
from tests.factories import english_texts, make_endpoint, make_finished_run, make_prompt_set

pytestmark = pytest.mark.django_db

PROMPTS, SAMPLES, WORDS = 10, 5, 60


def outputs_of(name: str, seed: int) -> list[str]:
    endpoint = make_endpoint(
        "http://127.0.0.1:9/v1",
        name=name,
        model=f"{name}-model",
        version_label=f"{name}-v1",
        samples_per_prompt=SAMPLES,
        prompt_set=make_prompt_set(open_prompts=PROMPTS, probes=0),
    )
    texts = english_texts(seed, 5000, PROMPTS, SAMPLES, WORDS)
    make_finished_run(endpoint, texts)
    return [text for prompt in texts for text in prompt]


def lightly_edited(text: str, rng: random.Random) -> str:
    """The copy a scraper would find: re-cased, re-punctuated, one word swapped."""
    words = text.split()
    words[rng.randrange(len(words))] = "zeppelin"
    words[0] = words[0].capitalize()
    edited = " ".join(words).upper() if rng.random() < 0.3 else " ".join(words)
    return edited.replace(" ", ", ", 2) + "!"


def write_jsonl(path, texts) -> None:
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts))


@pytest.fixture
def two_endpoints():
    return outputs_of("alpha", seed=1), outputs_of("beta", seed=2)


def test_finished_run_adds_its_outputs_to_the_index_once(two_endpoints):
    assert OutputSignature.objects.count() == 2 * PROMPTS * SAMPLES
    stats = OutputIndexStats.current()
    assert stats.outputs == 2 * PROMPTS * SAMPLES and stats.build_seconds > 0
    # A scan finds nothing left to sign: it loads the stored signatures instead.
    assert provenance_index.catch_up() == 0
    assert len(provenance_index.load_index(0.8)) == 2 * PROMPTS * SAMPLES


def test_thirty_percent_copied_outputs_are_reported_and_attributed(two_endpoints, tmp_path):
    alpha, beta = two_endpoints
    rng = random.Random(7)
    copies = [lightly_edited(text, rng) for text in alpha[:45] + beta[:45]]
    others = [text for prompt in english_texts(99, 5000, 210, 1, WORDS) for text in prompt]
    corpus = copies + others
    rng.shuffle(corpus)
    write_jsonl(tmp_path / "corpus.jsonl", corpus)

    report = scans.scan_file(tmp_path / "corpus.jsonl")

    outputs = report["model_outputs"]
    assert report["documents"] == 300
    assert abs(outputs["share"] - 0.30) <= 0.03
    assert outputs["ci_low"] < 0.30 < outputs["ci_high"]
    by_name = {row["endpoint"]: row for row in outputs["by_endpoint"]}
    assert set(by_name) == {"alpha", "beta"}
    assert abs(by_name["alpha"]["count"] - 45) <= 3 and abs(by_name["beta"]["count"] - 45) <= 3
    assert by_name["alpha"]["model"] == "alpha-model" and by_name["alpha"]["version"] == "alpha-v1"
    pair = outputs["pairs"][0]
    assert pair["output"] in alpha + beta and pair["document"] in copies


def test_exact_and_near_duplicates_are_counted_on_a_hand_built_corpus(tmp_path):
    first, second, third, fourth = (
        text for prompt in english_texts(3, 5000, 4, 1, WORDS) for text in prompt
    )
    swapped = first.split()
    swapped[10] = "zeppelin"
    lines = [
        first,
        first,  # exact
        second,
        second.upper() + ".",  # near: the same words, re-cased and punctuated
        third,
        " ".join(swapped),  # near: one word swapped
        fourth,
        first,  # exact
    ]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n")

    report = scans.scan_file(tmp_path / "corpus.txt")

    assert report["documents"] == 8
    assert report["duplicates"]["exact"]["count"] == 2
    assert report["duplicates"]["near"]["count"] == 2
    assert report["kept"] == 4
    assert report["model_outputs"]["count"] == 0


def test_filtered_corpus_holds_no_flagged_document(two_endpoints, tmp_path):
    alpha, _ = two_endpoints
    rng = random.Random(5)
    others = [text for prompt in english_texts(11, 5000, 20, 1, WORDS) for text in prompt]
    corpus = [lightly_edited(text, rng) for text in alpha[:10]] + others + others[:5]
    rng.shuffle(corpus)
    write_jsonl(tmp_path / "corpus.jsonl", corpus)
    (tmp_path / "corpus.jsonl").open("a").write("not json\n")

    report = scans.scan_file(
        tmp_path / "corpus.jsonl",
        filtered=tmp_path / "filtered.jsonl",
        manifest=tmp_path / "manifest.jsonl",
    )

    kept = [json.loads(line)["text"] for line in (tmp_path / "filtered.jsonl").open()]
    dropped = [json.loads(line) for line in (tmp_path / "manifest.jsonl").open()]
    assert len(kept) == report["kept"] == 20
    assert sorted(kept) == sorted(others)
    reasons = {row["reason"] for row in dropped}
    assert reasons == {"model output", "exact duplicate", "malformed"}
    assert len(dropped) == 10 + 5 + 1
    assert all(row["line"] for row in dropped)


def test_a_malformed_line_is_reported_with_its_number_and_the_scan_goes_on(tmp_path):
    documents = [text for prompt in english_texts(4, 5000, 4, 1, WORDS) for text in prompt]
    lines = [
        json.dumps({"text": documents[0]}),
        json.dumps({"text": documents[1]}),
        '{"text": "cut off',
        json.dumps({"title": "no text"}),
        json.dumps({"text": documents[2]}),
        json.dumps({"text": documents[3]}),
    ]
    (tmp_path / "corpus.jsonl").write_text("\n".join(lines) + "\n")

    report = scans.scan_file(tmp_path / "corpus.jsonl")

    assert report["documents"] == 4
    assert [row["line"] for row in report["malformed"]["lines"]] == [3, 4]
    assert "not JSON" in report["malformed"]["lines"][0]["error"]
    assert "text" in report["malformed"]["lines"][1]["error"]


def test_a_corpus_poorer_than_its_reference_loses_tail_words(tmp_path):
    rich = [text for prompt in english_texts(21, 20000, 200, 1, WORDS) for text in prompt]
    bland = [text for prompt in english_texts(22, 300, 200, 1, WORDS) for text in prompt]
    # A rare word common in the reference: the first the corpus is reported to lack.
    rich = [f"{text} wyvern" if i % 2 else text for i, text in enumerate(rich)]
    (tmp_path / "reference.txt").write_text("\n".join(rich))
    (tmp_path / "corpus.txt").write_text("\n".join(bland))

    report = scans.scan_file(tmp_path / "corpus.txt", reference=tmp_path / "reference.txt")

    signs = {row["key"]: row for row in report["warning_signs"]["metrics"]}
    assert report["warning_signs"]["compared"]
    assert signs["tail_types"]["worse"] and signs["distinct_2"]["worse"]
    assert report["rare_words"]["top"][0] == {"word": "wyvern", "reference_documents": 100}


def test_scan_command_writes_the_report_and_the_filtered_corpus(two_endpoints, tmp_path):
    alpha, _ = two_endpoints
    others = [text for prompt in english_texts(12, 5000, 5, 1, WORDS) for text in prompt]
    write_jsonl(tmp_path / "corpus.jsonl", alpha[:5] + others)

    call_command(
        "scan",
        str(tmp_path / "corpus.jsonl"),
        "--threshold",
        "0.7",
        "--json",
        str(tmp_path / "report.json"),
        "--filtered",
        str(tmp_path / "kept.jsonl"),
    )

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["threshold"] == 0.7
    assert report["model_outputs"]["count"] == 5
    assert len((tmp_path / "kept.jsonl").read_text().splitlines()) == 5
    assert len((tmp_path / "kept.jsonl.manifest.jsonl").read_text().splitlines()) == 5


def test_a_line_of_plain_text_that_is_not_utf8_is_malformed(tmp_path):
    (tmp_path / "corpus.txt").write_bytes(b"first document\n\n\xff\xfe broken\nlast document\n")

    report = scans.scan_file(tmp_path / "corpus.txt")

    assert report["documents"] == 2
    assert report["malformed"]["lines"][0]["line"] == 3
    assert "not UTF-8" in report["malformed"]["lines"][0]["error"]


def test_the_scan_command_refuses_a_missing_corpus(tmp_path):
    with pytest.raises(CommandError, match="no file"):
        call_command("scan", str(tmp_path / "missing.jsonl"))


def test_a_line_over_the_length_cap_is_malformed_and_skipped_unread(
    settings, monkeypatch, tmp_path
):
    settings.TAILWATCH_SCAN_MAX_LINE_BYTES = 100
    # Skipped a few bytes at a time, so the skip crosses many reads.
    monkeypatch.setattr(corpus_signs, "SKIPPED_BYTES", 7)
    at_cap = "word " * 19 + "last!"
    lines = ["first document", "x" * 101, at_cap, "y" * 500, "after the long ones"]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n" + "z" * 101)

    report = scans.scan_file(tmp_path / "corpus.txt", filtered=tmp_path / "kept.txt")

    assert report["documents"] == 3
    assert [row["line"] for row in report["malformed"]["lines"]] == [2, 4, 6]
    assert report["malformed"]["lines"][0]["error"] == "longer than 100 bytes"
    kept = (tmp_path / "kept.txt").read_text().splitlines()
    assert kept == ["first document", at_cap, "after the long ones"]


def test_deeply_nested_json_and_a_lone_surrogate_are_malformed_lines(tmp_path):
    nested = '{"text": "x", "a": ' + "[" * 200_000 + "]" * 200_000 + "}"
    lines = ['{"text": "first document"}', nested, '{"text": "\\ud800 lone"}', '{"text": "last"}']
    (tmp_path / "corpus.jsonl").write_text("\n".join(lines) + "\n")

    call_command("scan", str(tmp_path / "corpus.jsonl"), "--json", str(tmp_path / "report.json"))

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["documents"] == 2
    assert report["malformed"]["lines"] == [
        {"line": 2, "error": "not JSON: nested too deeply"},
        {"line": 3, "error": '"text" holds a lone surrogate'},
    ]


@pytest.mark.parametrize(
    "option, path",
    [("--filtered", "no-such-directory/kept.jsonl"), ("--json", "."), ("--json", "a/b.json")],
)
def test_the_scan_command_refuses_an_output_it_cannot_write_before_scanning(
    monkeypatch, tmp_path, option, path
):
    (tmp_path / "corpus.txt").write_text("one document\n")
    monkeypatch.setattr(scans, "scan_file", lambda *args: pytest.fail("scanned"))

    with pytest.raises(CommandError, match=f"{option}: cannot write"):
        call_command("scan", str(tmp_path / "corpus.txt"), option, str(tmp_path / path))
