"""The collapse lab: a small language model trained recursively on its own output.

Generation 0 is a word-level 4-gram model (interpolated absolute discounting, see
``ngram``) trained on fact sentences about real places (``corpus``); each later generation is
trained on text sampled from the one before (``chain``), in a *pure* arm, an *anchored* arm
that keeps 10% original text, and a *truncated* arm whose training text is sampled at
temperature 0.7 and top-p 0.9.
Each generation answers prompts (``respond``), and Tailwatch serves it at ``/lab/v1`` as an
OpenAI-compatible model named like ``lab-pure-g3``, or ``lab-truncated-drift`` for the arm's
generations one after another (``monitor.views.lab``); ``manage.py lab run`` measures the
generations (``experiment``).

The package is plain Python with no Django import, like ``evaluators``: it runs and is tested
on its own, and the app only configures and serves it.

Public API::

    from lab import Arm, Lab, LabConfig, evaluate

    lab = Lab(LabConfig(seed=0), cache_dir=None)   # cache_dir: where trained models are kept
    lab.lab_model(Arm.PURE, 3).replies(["In which country is the city of Surat?"], rng)
    evaluate(lab, Arm.PURE, 3)                     # a GenerationReport
"""

from lab.chain import (
    MAX_GENERATION,
    Arm,
    Lab,
    LabConfig,
    drifting_model_id,
    model_id,
    parse_drifting_model_id,
    parse_model_id,
)
from lab.corpus import CorpusSettings
from lab.experiment import GenerationReport, evaluate, table_rows

__all__ = [
    "MAX_GENERATION",
    "Arm",
    "CorpusSettings",
    "GenerationReport",
    "Lab",
    "LabConfig",
    "drifting_model_id",
    "evaluate",
    "model_id",
    "parse_drifting_model_id",
    "parse_model_id",
    "table_rows",
]
