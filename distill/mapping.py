"""Layer mapping ``n = g(m)``: which teacher layer each student layer learns from (paper 3.1).

Index 0 is the embedding layer and always maps to the teacher's embeddings; student
layers ``1..M`` map to teacher layers in ``1..N``. We require a strictly increasing
mapping: the paper's three strategies all are, and a non-monotone one would ask a
lower student layer to imitate a deeper teacher layer than the layer above it, which is
almost certainly a configuration mistake rather than an experiment.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

STRATEGIES = ("uniform", "top", "bottom")


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
        raise ValueError(
            f"student has {m_layers} layers but teacher only {n_layers}: "
            "each student layer needs its own teacher layer"
        )
    if isinstance(strategy, str):
        if strategy == "uniform":
            if n_layers % m_layers:
                raise ValueError(
                    f"uniform mapping needs teacher layers ({n_layers}) to be a multiple of "
                    f"student layers ({m_layers}); pass an explicit list instead"
                )
            layers = [m * n_layers // m_layers for m in range(1, m_layers + 1)]
        elif strategy == "top":
            layers = [m + n_layers - m_layers for m in range(1, m_layers + 1)]
        elif strategy == "bottom":
            layers = list(range(1, m_layers + 1))
        else:
            raise ValueError(f"unknown mapping strategy {strategy!r}; use one of {STRATEGIES}")
    else:
        layers = [int(n) for n in strategy]
        if len(layers) != m_layers:
            raise ValueError(
                f"explicit mapping has {len(layers)} entries but the student has {m_layers} layers"
            )
        if any(not 1 <= n <= n_layers for n in layers):
            raise ValueError(f"explicit mapping {layers} must use teacher layers 1..{n_layers}")
        if any(b <= a for a, b in itertools.pairwise(layers)):
            raise ValueError(f"explicit mapping {layers} must be strictly increasing")
    return [0, *layers]


def parse_mapping(text: str) -> str | list[int]:
    """Parse a CLI value: a strategy name or a comma-separated list such as ``3,6,9,12``."""
    if text in STRATEGIES:
        return text
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(
            f"mapping {text!r} is neither a strategy {STRATEGIES} nor a list like 3,6,9,12"
        ) from None
