"""Layer mapping ``n = g(m)``: which teacher layer each student layer learns from (paper 3.1).

Index 0 is the embedding layer and always maps to the teacher's embeddings; student
layers ``1..M`` map to teacher layers in ``1..N``. We require a strictly increasing
mapping: the paper's three strategies all are, and a non-monotone one would ask a
lower student layer to imitate a deeper teacher layer than the layer above it, which is
almost certainly a configuration mistake rather than an experiment.

Besides the fixed strategies, ``adaptive`` chooses the mapping from data: the strictly
increasing mapping with the largest total linear CKA between student and teacher hidden
states (:func:`linear_cka`, :func:`best_monotone_mapping`), measured on a sample of the
training data before the stage starts. That needs both models and the data, so it lives
in :mod:`distill.adaptive_mapping`; this module stays free of models.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from distill.errors import DistillError

STRATEGIES = ("uniform", "top", "bottom")
ADAPTIVE = "adaptive"


def layer_mapping(
    strategy: str | Sequence[int], student_layers: int, teacher_layers: int
) -> list[int]:
    """Return ``[g(0), g(1), ..., g(M)]`` with ``g(0) = 0``.

    ``strategy`` is ``uniform`` (``g(m) = m * N / M``, the TinyBERT default), ``top``
    (``m + N - M``), ``bottom`` (``m``), or an explicit list of ``M`` teacher layers for
    student layers ``1..M`` (1-based; the embedding entry is added here).
    """
    m_layers, n_layers = student_layers, teacher_layers
    if m_layers > n_layers:
        raise DistillError(
            f"student has {m_layers} layers but teacher only {n_layers}: "
            "each student layer needs its own teacher layer"
        )
    if isinstance(strategy, str):
        if strategy == "uniform":
            if n_layers % m_layers:
                raise DistillError(
                    f"uniform mapping needs teacher layers ({n_layers}) to be a multiple of "
                    f"student layers ({m_layers}); pass an explicit list instead"
                )
            layers = [m * n_layers // m_layers for m in range(1, m_layers + 1)]
        elif strategy == "top":
            layers = [m + n_layers - m_layers for m in range(1, m_layers + 1)]
        elif strategy == "bottom":
            layers = list(range(1, m_layers + 1))
        elif strategy == ADAPTIVE:
            raise DistillError(
                "the adaptive mapping is chosen from the models and data: use "
                "distill.adaptive_mapping.adaptive_mapping, then pass its result here"
            )
        else:
            raise DistillError(f"unknown mapping strategy {strategy!r}; use one of {STRATEGIES}")
    else:
        layers = [int(n) for n in strategy]
        if len(layers) != m_layers:
            raise DistillError(
                f"explicit mapping has {len(layers)} entries but the student has {m_layers} layers"
            )
        if any(not 1 <= n <= n_layers for n in layers):
            raise DistillError(f"explicit mapping {layers} must use teacher layers 1..{n_layers}")
        if any(b <= a for a, b in itertools.pairwise(layers)):
            raise DistillError(f"explicit mapping {layers} must be strictly increasing")
    return [0, *layers]


def parse_mapping(text: str) -> str | list[int]:
    """Parse a CLI value: a strategy name, ``adaptive`` or a list such as ``3,6,9,12``."""
    if text in (*STRATEGIES, ADAPTIVE):
        return text
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise DistillError(
            f"mapping {text!r} is neither a strategy {(*STRATEGIES, ADAPTIVE)} "
            "nor a list like 3,6,9,12"
        ) from None


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between representations ``x`` (n, p) and ``y`` (n, q) of the same n inputs.

    ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` after centring each feature (Kornblith et
    al. 2019); 1 means the two are the same up to an orthogonal transform and isotropic
    scaling, so it compares layers of different widths without any projection.
    """
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    cross = np.linalg.norm(y.T @ x) ** 2
    return float(cross / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def best_monotone_mapping(similarity: np.ndarray) -> list[int]:
    """Strictly increasing teacher layer per student layer maximising total similarity.

    ``similarity`` is ``(M, N)`` with ``M <= N``; returns 0-based column indices (add 1 for
    layer numbers). Dynamic programming: ``best[m, n]`` is the best total for student layers
    ``0..m`` when layer ``m`` takes teacher layer ``n``, which only needs the best prefix
    of row ``m - 1`` over columns ``< n``. Pass ``-mse`` to minimise an error instead.
    """
    similarity = np.asarray(similarity, dtype=float)
    rows, cols = similarity.shape
    if rows > cols:
        raise DistillError(f"{rows} student layers cannot map to {cols} distinct teacher layers")
    best = np.full((rows, cols), -np.inf)
    came_from = np.zeros((rows, cols), dtype=int)
    best[0] = similarity[0]
    for m in range(1, rows):
        for n in range(m, cols):
            previous = int(np.argmax(best[m - 1, :n]))
            best[m, n] = best[m - 1, previous] + similarity[m, n]
            came_from[m, n] = previous
    mapping = [int(np.argmax(best[-1]))]
    for m in range(rows - 1, 0, -1):
        mapping.append(int(came_from[m, mapping[-1]]))
    return mapping[::-1]
