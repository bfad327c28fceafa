"""The generation loop: each generation trained on text written by the one before.

Generation 0 is trained on the original corpus. Generation g + 1 is trained on a corpus of the
same number of sentences, sampled from generation g. Three arms:

* ``pure``: only the text sampled at temperature 1, the loop that collapses (Shumailov et al.,
  2024);
* ``anchored``: a share of every generation's corpus (10% by default) drawn afresh from the
  original corpus, the mitigation the literature recommends;
* ``truncated``: only sampled text, drawn the way production pipelines draw it, at temperature
  0.7 and top-p 0.9 (nucleus sampling, Holtzman et al., 2020): every generation's training text
  favours the likely continuations and leaves out the least likely ones, so each generation
  loses its tails, and then its variety, faster than the pure arm.

Everything is deterministic given the config's seed: generation g of an arm samples with a
random generator seeded by (seed, arm, g), so a cache is reproducible and tests are exact.
Trained generations are cached in memory and on disk, keyed by the config and the corpus
text; a file lock makes concurrent processes (web, workers) train each chain once, and files
are written to a temporary name and renamed, so a reader never sees half a model.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

import evaluators
from lab.corpus import Corpus, CorpusSettings, build_corpus
from lab.ngram import NgramModel
from lab.respond import LabModel, PromptReader
from lab.text import Vocabulary

MAX_GENERATION = 20


class Arm(StrEnum):
    PURE = "pure"
    ANCHORED = "anchored"
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class LabConfig:
    """Everything that determines the lab's generations."""

    seed: int = 0
    order: int = 4
    anchor_share: float = 0.1
    # How the truncated arm samples its training text: the nucleus and the temperature.
    truncated_top_p: float = 0.9
    truncated_temperature: float = 0.7
    # Every probe_stride-th default probe's entity is in the corpus; tests use a smaller one.
    probe_stride: int = 1
    heldout_share: float = 0.05
    max_sentence_tokens: int = 60
    corpus: CorpusSettings = field(default_factory=CorpusSettings)

    def probes(self) -> list[dict]:
        return evaluators.load_default_probes()[:: self.probe_stride]


class Lab:
    """The generations of both arms for one config, trained when first asked for (``model``)
    and cached; ``trained_lab_model`` serves only those already trained."""

    def __init__(self, config: LabConfig, cache_dir: Path | None = None) -> None:
        self.config = config
        self.cache_dir = cache_dir
        self._models: dict[tuple[Arm, int], NgramModel] = {}
        self._lock = threading.Lock()

    @functools.cached_property
    def corpus(self) -> Corpus:
        config = self.config
        return build_corpus(config.probes(), config.corpus, config.seed, config.heldout_share)

    @functools.cached_property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary.of_texts(self.corpus.sentences + self.corpus.heldout)

    @functools.cached_property
    def original(self) -> list[list[int]]:
        """The original corpus as token ids."""
        return [self.vocabulary.encode(sentence) for sentence in self.corpus.sentences]

    @functools.cached_property
    def heldout(self) -> list[list[int]]:
        return [self.vocabulary.encode(sentence) for sentence in self.corpus.heldout]

    @functools.cached_property
    def reader(self) -> PromptReader:
        return PromptReader.of_subjects(self.corpus.subjects)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Names the cache: the config and the corpus text, so a change to either (or to the
        data it is rendered from) retrains."""
        digest = hashlib.sha256(
            json.dumps(dataclasses.asdict(self.config), sort_keys=True).encode()
        )
        for sentence in self.corpus.sentences:
            digest.update(sentence.encode() + b"\n")
        return digest.hexdigest()[:16]

    # Generations -----------------------------------------------------------------------------
    def model(self, arm: Arm, generation: int) -> NgramModel:
        """Generation ``generation`` of ``arm``, training it (and those before it) if needed."""
        key = _checked_key(arm, generation)
        with self._lock:
            if key not in self._models:
                with self._file_lock():
                    for step in range(generation + 1):
                        self._load_or_train(_key(key[0], step))
            return self._models[key]

    def lab_model(self, arm: Arm, generation: int) -> LabModel:
        """The generation, ready to answer prompts."""
        return LabModel(self.model(arm, generation), self.vocabulary, self.reader)

    def trained_lab_model(self, arm: Arm, generation: int) -> LabModel | None:
        """The generation ready to answer prompts if it is trained (in memory, or on disk by
        another process), None if it is not: this never trains, so it never takes long."""
        key = _checked_key(arm, generation)
        with self._lock:
            if key not in self._models:
                path = self._path(*key)
                if path is None or not path.exists():
                    return None
                self._models[key] = NgramModel.load(path)
        return LabModel(self._models[key], self.vocabulary, self.reader)

    def chain(self, arm: Arm, generations: int) -> Iterator[tuple[int, NgramModel]]:
        """Generations 0..``generations`` of ``arm`` in order, each trained as it is reached."""
        for generation in range(generations + 1):
            yield generation, self.model(arm, generation)

    def _load_or_train(self, key: tuple[Arm, int]) -> None:
        """Make sure the generation ``key`` names is in memory; call with both locks held and
        the generation before it in memory."""
        if key in self._models:
            return
        path = self._path(*key)
        if path is not None and path.exists():
            self._models[key] = NgramModel.load(path)
            return
        arm, generation = key
        if generation == 0:
            sentences = self.original
        else:
            previous = self._models[_key(arm, generation - 1)]
            sentences = self.training_corpus(arm, generation, previous)
        model = NgramModel.train(sentences, self.config.order, len(self.vocabulary))
        if path is not None:
            _write_atomically(model, path)
        self._models[key] = model

    def training_corpus(self, arm: Arm, generation: int, previous: NgramModel) -> list[list[int]]:
        """The corpus generation ``generation`` (≥ 1) of ``arm`` is trained on: as many
        sentences as the original, sampled from ``previous`` at temperature 1 (the truncated
        arm: from its nucleus), with the anchored arm's share replaced by original sentences
        drawn afresh."""
        rng = np.random.default_rng([self.config.seed, list(Arm).index(arm), generation])
        size = len(self.original)
        kept = round(self.config.anchor_share * size) if arm == Arm.ANCHORED else 0
        truncated = arm == Arm.TRUNCATED
        sampled = previous.generate(
            [[]] * (size - kept),
            rng,
            self.config.max_sentence_tokens,
            top_p=self.config.truncated_top_p if truncated else 1.0,
            temperature=self.config.truncated_temperature if truncated else 1.0,
        )
        anchors = rng.choice(size, kept, replace=False)
        return sampled + [self.original[i] for i in anchors]

    # Disk cache ------------------------------------------------------------------------------
    def _path(self, arm: Arm, generation: int) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / self.fingerprint / f"{arm}-g{generation}.npz"

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Held while training: another process waits, then finds the files written."""
        if self.cache_dir is None:
            yield
            return
        directory = self.cache_dir / self.fingerprint
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "train.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _checked_key(arm: Arm, generation: int) -> tuple[Arm, int]:
    if not 0 <= generation <= MAX_GENERATION:
        raise ValueError(f"generations run from 0 to {MAX_GENERATION}, not {generation}")
    return _key(Arm(arm), generation)


def _key(arm: Arm, generation: int) -> tuple[Arm, int]:
    """Generation 0 is trained on the original corpus alone, so both arms share it."""
    return (Arm.PURE, 0) if generation == 0 else (arm, generation)


def _write_atomically(model: NgramModel, path: Path) -> None:
    """Write to a temporary file beside ``path`` and rename it into place."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        model.save(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_MODEL_ID = re.compile(rf"lab-({'|'.join(Arm)})-g(\d{{1,2}})")
_DRIFTING_MODEL_ID = re.compile(rf"lab-({'|'.join(Arm)})-drift")


def parse_model_id(model_id: str) -> tuple[Arm, int] | None:
    """(Arm.PURE, 3) for "lab-pure-g3"; None for anything that is not a lab model's id."""
    match = _MODEL_ID.fullmatch(model_id)
    if match is None or int(match[2]) > MAX_GENERATION:
        return None
    return Arm(match[1]), int(match[2])


def model_id(arm: Arm, generation: int) -> str:
    return f"lab-{arm}-g{generation}"


def parse_drifting_model_id(model_id: str) -> Arm | None:
    """Arm.TRUNCATED for "lab-truncated-drift", the model that serves the arm's generations
    one after another (the server decides which one a request gets); None otherwise."""
    match = _DRIFTING_MODEL_ID.fullmatch(model_id)
    return None if match is None else Arm(match[1])


def drifting_model_id(arm: Arm) -> str:
    return f"lab-{arm}-drift"
