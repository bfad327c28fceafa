"""Measuring each generation with the warning signs Tailwatch watches.

For every generation: the perplexity of held-out original text (how much of the original
distribution the model still covers), the variety and rare words of its own writing (distinct-2,
tail types, tail vocabulary and, given an encoder, the embedding diversity among the samples of
each of the default open prompts), and its accuracy on the factual probes by popularity tercile
of the entity asked about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

import evaluators
from lab.chain import Arm, Lab

OPEN_PROMPT_SAMPLES = 5
# Keeps the evaluation's random numbers apart from those that sample training corpora.
_EVALUATION_STREAM = 1_000


@dataclass(frozen=True)
class GenerationReport:
    arm: Arm
    generation: int
    perplexity: float
    distinct_2: float
    tail_types: float  # distinct rare word types (Zipf < 3.5) expected in 1,000 tokens
    tail_vocabulary: float
    accuracy: dict[str, float]  # by popularity tercile: "head", "torso", "tail"
    embedding_diversity: float | None = None  # within a prompt's samples; None without encoder


def evaluate(
    lab: Lab, arm: Arm, generation: int, encoder: evaluators.Encoder | None = None
) -> GenerationReport:
    """Measure one generation, its embedding diversity too when given an ``encoder``. Every
    arm is measured with the same random numbers, so their generation 0, the same model, gets
    the same figures."""
    model = lab.lab_model(arm, generation)
    rng = np.random.default_rng([lab.config.seed, generation, _EVALUATION_STREAM])
    probes = lab.config.probes()
    answers = model.replies([probe["text"] for probe in probes], rng)
    open_prompts = [prompt["text"] for prompt in evaluators.load_default_open_prompts()]
    writing = model.replies(open_prompts * OPEN_PROMPT_SAMPLES, rng)
    writing_metrics = _writing_metrics(writing, len(open_prompts), encoder)
    terciles = evaluators.popularity_terciles([probe["popularity"] for probe in probes])
    accuracy = {
        tercile: evaluators.accuracy(
            [answer for answer, label in zip(answers, terciles, strict=True) if label == tercile],
            [
                probe["gold"]
                for probe, label in zip(probes, terciles, strict=True)
                if label == tercile
            ],
        )
        for tercile in ("head", "torso", "tail")
    }
    return GenerationReport(
        arm=arm,
        generation=generation,
        perplexity=model.model.perplexity(lab.heldout),
        distinct_2=evaluators.distinct_n(writing, 2),
        tail_types=writing_metrics["tail_types"].value,
        tail_vocabulary=evaluators.tail_vocabulary(writing),
        accuracy=accuracy,
        embedding_diversity=(
            writing_metrics["embedding_diversity_within"].value if encoder is not None else None
        ),
    )


def _writing_metrics(
    writing: list[str], prompt_count: int, encoder: evaluators.Encoder | None
) -> dict[str, evaluators.MetricValue]:
    """The metrics of replies written to ``prompt_count`` prompts, round after round, as
    Tailwatch measures them on a run: from the evaluators' report, the one place each metric is
    defined."""
    batch = evaluators.Batch.from_rows(
        (index % prompt_count, text) for index, text in enumerate(writing)
    )
    return evaluators.score(batch, encoder=encoder, embed=encoder is not None).metrics


TABLE_HEADER = (
    "| gen | held-out perplexity | distinct-2 | tail types | tail vocabulary "
    "| embedding diversity | accuracy head | accuracy torso | accuracy tail |"
)


def table_rows(reports: Iterable[GenerationReport]) -> Iterable[str]:
    """The reports as Markdown table rows, under :data:`TABLE_HEADER`."""
    yield TABLE_HEADER
    yield "|" + "---:|" * 9
    for report in reports:
        accuracy = report.accuracy
        diversity = report.embedding_diversity
        yield (
            f"| {report.generation} | {report.perplexity:.1f} | {report.distinct_2:.3f} "
            f"| {report.tail_types:.1f} | {report.tail_vocabulary:.3f} "
            f"| {'—' if diversity is None else f'{diversity:.3f}'} | {accuracy['head']:.2f} "
            f"| {accuracy['torso']:.2f} | {accuracy['tail']:.2f} |"
        )
