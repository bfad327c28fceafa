"""Warning signs of model collapse, measured on lists of model outputs.

Pure functions, no Django and no I/O: usable as a library on its own.

``METRICS`` is the catalogue of warning signs (key, label, description, which way is worse).
``score(batch)`` computes every metric that applies to a :class:`Batch` of outputs, with
95% confidence intervals over prompts; ``compare(baseline, candidate)`` tests which
metrics changed between two runs, and ``regressed_metrics`` applies the alert policy
(``DEFAULT_POLICY``) to them. Each metric is also a function of a list of strings.
"""

from evaluators.blandness import blandness_index
from evaluators.bleu import self_bleu
from evaluators.comparison import MetricComparison, compare
from evaluators.embedding import (
    Encoder,
    SentenceTransformerEncoder,
    cross_group_cosine_distance,
    mean_pairwise_cosine_distance,
    vendi_score,
)
from evaluators.features import PromptOutputs
from evaluators.lexical import compression_ratio, distinct_n, phrase_repetition, repetition
from evaluators.metrics import METRIC_KEYS, METRICS, Metric
from evaluators.policy import DEFAULT_POLICY, AlertPolicy, regressed_metrics
from evaluators.probes import (
    accuracy,
    confident_inaccuracy,
    is_correct,
    is_hedged,
    normalize_answer,
    popularity_terciles,
    tail_gap,
)
from evaluators.prompts import load_default_open_prompts, load_default_probes
from evaluators.report import Batch, MetricValue, Report, score
from evaluators.tokenize import tokenize
from evaluators.vocabulary import expected_types, mean_zipf, tail_vocabulary

__all__ = [
    "DEFAULT_POLICY",
    "METRICS",
    "METRIC_KEYS",
    "AlertPolicy",
    "Batch",
    "Encoder",
    "Metric",
    "MetricComparison",
    "MetricValue",
    "PromptOutputs",
    "Report",
    "SentenceTransformerEncoder",
    "accuracy",
    "blandness_index",
    "compare",
    "compression_ratio",
    "confident_inaccuracy",
    "cross_group_cosine_distance",
    "distinct_n",
    "expected_types",
    "is_correct",
    "is_hedged",
    "load_default_open_prompts",
    "load_default_probes",
    "mean_pairwise_cosine_distance",
    "mean_zipf",
    "normalize_answer",
    "phrase_repetition",
    "popularity_terciles",
    "regressed_metrics",
    "repetition",
    "score",
    "self_bleu",
    "tail_gap",
    "tail_vocabulary",
    "tokenize",
    "vendi_score",
]
