"""The answers' length as context: one line when two runs differ in length by 10% or more,
tokens per output beside the metrics, and the length-matched metrics next to their raw twins
on the compare page, the ones the alert policy judges marked."""

import re

import pytest
from django.urls import reverse

from evaluators.policy import DEFAULT_POLICY
from monitor.models import Run
from monitor.selectors.length import length_context
from tests.factories import make_scored_run


def with_median(median: float) -> Run:
    return Run(report={"metrics": {}, "lengths": {"q1": 1, "median": median, "q3": 99}})


@pytest.mark.parametrize(
    "median, line",
    [
        (
            78,
            "Answers 2.0× longer than the baseline (median 78 vs 39 tokens per output); "
            "the alert judges the length-matched signs.",
        ),
        (43, "Answers 1.1× longer than the baseline (median 43 vs 39 tokens per output); "),
        (35, "Answers 1.1× shorter than the baseline (median 35 vs 39 tokens per output); "),
        (19.5, "Answers 2.0× shorter than the baseline (median 19.5 vs 39 tokens per output)"),
        (41, ""),  # 5% longer
        (36, ""),  # 7.7% shorter
        (39, ""),
    ],
)
def test_the_length_line_appears_only_when_lengths_differ_by_ten_percent(median, line):
    said = length_context(with_median(median), with_median(39))
    assert said.startswith(line) and bool(said) == bool(line)


def test_no_length_line_without_lengths_or_a_reference():
    assert length_context(with_median(78), None) == ""
    assert length_context(Run(report={"metrics": {}}), with_median(39)) == ""


def compare_runs_page(client, a: Run, b: Run) -> str:
    return client.get(f"{reverse('compare')}?by=run&a={a.pk}&b={b.pk}").content.decode()


@pytest.mark.django_db
def test_the_compare_page_says_the_length_and_shows_tokens_per_output(user_client, versions):
    old, new = versions
    a = make_scored_run(old, seed=1, vocabulary=3000, words=40)
    b = make_scored_run(new, seed=2, vocabulary=3000, words=80)
    page = compare_runs_page(user_client, a, b)

    assert (
        "B&#x27;s answers 2.0× longer than A&#x27;s (median 80 vs 40 tokens per output); "
        "the alert policy judges the length-matched signs." in page
    )
    rows = {
        row: re.search(rf'<tr data-run="{row}">(.*?)</tr>', page, re.S).group(1) for row in "AB"
    }
    mean = r'<td class="num">{}(\.\d)?</td>'  # the mean: a few words split in two tokens
    assert re.search(mean.format(40), rows["A"]) and "40 · 40 · 40" in rows["A"]
    assert re.search(mean.format(80), rows["B"]) and "80 · 80 · 80" in rows["B"]
    assert "first 40 tokens" in rows["A"]  # the window b was measured at is a's

    same = make_scored_run(new, seed=3, vocabulary=3000, words=42)
    assert "tokens per output);" not in compare_runs_page(user_client, a, same)


@pytest.mark.django_db
def test_the_compare_page_lists_matched_metrics_after_their_raw_twins(user_client, versions):
    old, new = versions
    a = make_scored_run(old, seed=1, vocabulary=3000, words=40)
    b = make_scored_run(new, seed=2, vocabulary=3000, words=80)
    page = compare_runs_page(user_client, a, b)
    order = re.findall(r'<tr data-metric="([a-z0-9_]+)"', page)

    for raw in ("distinct_2", "tail_types", "types_per_1k"):
        assert order.index(f"{raw}_matched") == order.index(raw) + 1
    judged = set(re.findall(r'<tr data-metric="([a-z0-9_]+)"[^>]*data-judged', page))
    assert judged == set(DEFAULT_POLICY.metrics) & set(order)
    assert {"distinct_2_matched", "tail_types_matched"} <= judged
    # Twice the length lowers raw distinct-2: a worse-looking row the policy does not judge.
    # Tokens per output doubled, and is coloured neither way.
    row = re.search(r'<tr data-metric="distinct_2" class="([^"]*)"', page).group(1)
    assert "worse" in row
    row = re.search(r'<tr data-metric="tokens_per_output" class="([^"]*)"', page).group(1)
    assert "worse" not in row
    # Its change is said without better or worse.
    assert re.search(r'data-metric="tokens_per_output".*?\(up \d+\.\d%\)</span>', page, re.S)


@pytest.mark.django_db
def test_the_run_page_shows_the_quartiles_and_the_matched_window(user_client, versions):
    old, new = versions
    a = make_scored_run(old, seed=1, vocabulary=3000, words=40)
    b = make_scored_run(new, seed=2, vocabulary=3000, words=80)
    page = user_client.get(b.get_absolute_url()).content.decode()

    assert re.search(r"mean 80(\.\d)?; quartiles 80 · 80 \(median\) · 80", page)
    assert "measured on each output's first 40 tokens" in page
    assert "Answers 2.0× longer than the baseline (median 80 vs 40 tokens per output)" in page
    assert "Answers" not in user_client.get(a.get_absolute_url()).content.decode()
