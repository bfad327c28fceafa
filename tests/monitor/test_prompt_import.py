"""Prompt sets: JSONL and CSV upload, row-by-row errors, versions, and frozen prompts."""

import json

import pytest

from monitor.models import Prompt, PromptInUseError, PromptKind, PromptSet
from monitor.services import prompts, sampling
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


def jsonl(*rows) -> bytes:
    return "\n".join(json.dumps(row) if isinstance(row, dict) else row for row in rows).encode()


def test_jsonl_rows_become_open_prompts_and_probes():
    data = jsonl(
        {"id": "poem", "text": "Write a poem about rain."},
        "",
        {"id": "cap-1", "text": "Capital of Chad?", "gold": ["N'Djamena"], "popularity": 17e6},
    )
    version = prompts.import_prompt_file("mixed", "set.jsonl", data)
    assert version.number == 1
    poem, probe = version.prompts.all()
    assert (poem.key, poem.kind, poem.gold, poem.popularity) == ("poem", "open", [], None)
    assert (probe.kind, probe.gold, probe.popularity) == (PromptKind.PROBE, ["N'Djamena"], 17e6)


def test_csv_with_aliases_separated_by_bars():
    data = (
        b"id,text,kind,gold,popularity\n"
        b"a,Which country is Ouagadougou in?,probe,Burkina Faso|Upper Volta,2400000\n"
        b'b,"Describe a market, briefly.",,,\n'
    )
    version = prompts.import_prompt_file("csv", "set.csv", data)
    probe, open_prompt = version.prompts.all()
    assert probe.gold == ["Burkina Faso", "Upper Volta"] and probe.popularity == 2.4e6
    assert open_prompt.kind == "open" and open_prompt.text == "Describe a market, briefly."


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_stored():
    data = jsonl(
        {"id": "ok", "text": "fine"},
        "{not json",
        {"id": "no-text"},
        {"id": "probe", "text": "Q?", "kind": "probe"},
        {"id": "pop", "text": "Q?", "gold": ["A"], "popularity": "many"},
        {"id": "ok", "text": "again"},
        '["a list"]',
        {"text": "Q?", "kind": "quiz"},
    )
    with pytest.raises(prompts.PromptImportError) as caught:
        prompts.import_prompt_file("bad", "bad.jsonl", data)
    assert caught.value.errors == [
        "line 2: not valid JSON (Expecting property name enclosed in double quotes)",
        "line 3: 'text' is missing or empty",
        "line 4: a probe needs at least one 'gold' answer",
        "line 5: 'popularity' must be a number, not 'many'",
        "line 6: id 'ok' already used on line 1",
        "line 7: not a JSON object",
        "line 8: 'kind' must be one of open, probe, not 'quiz'",
    ]
    assert not PromptSet.objects.filter(name="bad").exists()


@pytest.mark.parametrize(
    "filename, data, error",
    [
        ("set.txt", b"text\nhi", "file name must end in .jsonl or .csv"),
        ("set.jsonl", b"\xff\xfe\x00bad", "file is not UTF-8 text (byte 0)"),
        ("set.csv", b"prompt\nhi\n", "line 1: the header row must name a 'text' column"),
        ("set.jsonl", b"\n\n", "the file has no prompts"),
        ("set.csv", b"text,gold\nhi,a,extra\n", "line 2: more cells than header columns"),
    ],
)
def test_unreadable_files_are_rejected_with_a_reason(filename, data, error):
    with pytest.raises(prompts.PromptImportError) as caught:
        prompts.parse_prompt_file(filename, data)
    assert caught.value.errors == [error]


@pytest.mark.parametrize(
    "filename, data, error",
    [
        (
            "deep.jsonl",
            b'{"text": "ok"}\n{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "line 2: not valid JSON (nested too deeply)",
        ),
        (
            "digits.jsonl",
            b'{"text": "Q?", "popularity": ' + b"9" * 5000 + b"}",
            "line 1: not valid JSON (a number has too many digits)",
        ),
        (
            "huge.jsonl",
            b'{"text": "Q?", "gold": ["A"], "popularity": 1' + b"0" * 400 + b"}",
            "line 1: 'popularity' must be a number, not " + repr(10**400),
        ),
        (
            "surrogate.jsonl",
            b'{"text": "a \\ud800 b"}',
            "line 1: 'text' holds a lone surrogate ('\\ud800'), which is not text",
        ),
        (
            "surrogate-id.jsonl",
            b'{"id": "\\udfff", "text": "Q?"}',
            "line 1: 'id' holds a lone surrogate ('\\udfff'), which is not text",
        ),
        (
            "nul.jsonl",
            b'{"text": "Q?", "gold": ["A\\u0000B"]}',
            "line 1: 'gold' holds a NUL character",
        ),
        (
            "cell.csv",
            b"text\nfine\n" + b"x" * 131_073 + b"\n",
            "line 3: a cell is longer than 131072 characters; the rest of the file was not read",
        ),
        (
            "quote.csv",
            b'id,text\na,fine\nb,"unclosed\nc,third\nd,fourth\n',
            "line 3: a quote opened in this row is never closed (the lines after it would merge)"
            "; the rest of the file was not read",
        ),
        (
            "stray.csv",
            b'id,text\na,"He said "hi"\nb,world\n',
            "line 2: not valid CSV (',' expected after '\"'); the rest of the file was not read",
        ),
    ],
)
def test_hostile_files_are_rejected_with_the_line_at_fault(filename, data, error):
    with pytest.raises(prompts.PromptImportError) as caught:
        prompts.import_prompt_file("hostile", filename, data)
    assert caught.value.errors == [error]
    assert not PromptSet.objects.filter(name="hostile").exists()


def test_a_quoted_csv_cell_may_span_lines_and_rows_after_it_keep_their_lines():
    data = b'id,text\na,"two\nlines"\n\nb,\n'
    with pytest.raises(prompts.PromptImportError) as caught:
        prompts.parse_prompt_file("set.csv", data)
    assert caught.value.errors == ["line 5: 'text' is missing or empty"]
    rows = prompts.parse_prompt_file("set.csv", data.replace(b"b,", b"b,three"))
    assert [row.text for row in rows] == ["two\nlines", "three"]


def test_a_new_upload_adds_a_version_and_runs_keep_theirs(fake_llm):
    first = prompts.import_prompt_file("evolving", "v1.jsonl", jsonl({"id": "a", "text": "A?"}))
    endpoint = make_endpoint(fake_llm.url, prompt_set=first.prompt_set)
    run = sampling.start_run(endpoint)

    second = prompts.import_prompt_file(
        "evolving", "v2.jsonl", jsonl({"id": "a", "text": "A?"}, {"id": "b", "text": "B?"})
    )

    assert second.number == 2 and first.prompt_set.latest_version == second
    assert run.prompt_set_version == first
    assert first.prompts.count() == 1


def test_prompts_of_a_used_version_are_frozen(fake_llm):
    version = prompts.import_prompt_file("frozen", "p.jsonl", jsonl({"id": "a", "text": "A?"}))
    prompt = version.prompts.get()
    prompt.text = "edited before use"
    prompt.save()

    sampling.start_run(make_endpoint(fake_llm.url, prompt_set=version.prompt_set))

    prompt.text = "edited after use"
    with pytest.raises(PromptInUseError):
        prompt.save()
    with pytest.raises(PromptInUseError):
        prompt.delete()
    assert Prompt.objects.get(pk=prompt.pk).text == "edited before use"
