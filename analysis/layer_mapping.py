"""Which teacher layer does each student layer resemble? (Paper section 3.1 / Table 4.)

For every (student layer, teacher layer) pair we measure

* the attention-map MSE, the quantity TinyBERT's attention loss minimises, and
* the linear CKA between hidden states (Kornblith et al. 2019), a similarity that does not
  care about the student's smaller width, rotations or scale of the representation,

draw both as heat maps with the paper's uniform / top / bottom mappings on top, and find
the strictly increasing mapping that a given similarity matrix likes best
(:func:`best_monotone_mapping`). ``linear_cka`` and ``best_monotone_mapping`` live in
``distill.mapping`` (``--mapping adaptive`` uses them to choose a mapping before
distilling) and are re-exported here. Layers are 1-based in figures and mappings, matching
``distill.mapping.layer_mapping``; the embedding layer (index 0) is left out because it
always maps to the teacher's embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure

from analysis.extract import Example
from distill.mapping import STRATEGIES, best_monotone_mapping, layer_mapping, linear_cka

# (marker, colour) of each mapping drawn on a layer heat map, in the order given.
MAPPING_STYLES = (
    ("o", "white"),
    ("s", "tab:red"),
    ("^", "orange"),
    ("D", "deepskyblue"),
    ("v", "magenta"),
    ("P", "lime"),
)


def cka_matrix(student: Sequence[Example], teacher: Sequence[Example]) -> np.ndarray:
    """Linear CKA of every (student layer, teacher layer) pair, shape ``(M, N)``.

    The rows of each representation are all tokens of all examples, so both models must
    have seen the same inputs with the same tokenizer.
    """
    student_tokens = np.concatenate([e.hidden_states[1:] for e in student], axis=1)
    teacher_tokens = np.concatenate([e.hidden_states[1:] for e in teacher], axis=1)
    return np.array([[linear_cka(s, t) for t in teacher_tokens] for s in student_tokens])


def attention_mse_matrix(
    student: Sequence[Example], teacher: Sequence[Example], use_scores: bool = False
) -> np.ndarray:
    """Mean squared difference of attention maps for every layer pair, shape ``(M, N)``.

    Heads are compared one to one when both models have the same number (as TinyBERT's
    loss does); otherwise each layer's maps are averaged over heads first. ``use_scores``
    compares the pre-softmax scores that TinyBERT distils instead of the probabilities.
    """
    total = 0.0
    count = 0
    for s_example, t_example in zip(student, teacher, strict=True):
        s_maps = s_example.scores if use_scores else s_example.attentions
        t_maps = t_example.scores if use_scores else t_example.attentions
        if s_maps.shape[1] != t_maps.shape[1]:
            s_maps = s_maps.mean(axis=1, keepdims=True)
            t_maps = t_maps.mean(axis=1, keepdims=True)
        squared = (s_maps[:, None] - t_maps[None, :]) ** 2  # (M, N, heads, n, n)
        total = total + squared.sum(axis=(2, 3, 4))
        count += squared[0, 0].size
    return total / count


def attention_loss_baselines(
    student: Sequence[Example], teacher: Sequence[Example], mapping: Sequence[int]
) -> dict[str, np.ndarray]:
    """Per student layer: its attention-score loss against teacher layer ``mapping[m]``
    (1-based), beside students that have learned nothing about attention.

    ``student`` is the loss TinyBERT minimises; ``zero`` that of all-zero scores;
    ``uniform`` that of the best scores constant along each row (the rows' means of the
    teacher's scores), i.e. of the best student that attends uniformly. Adding a constant
    to a row of scores changes the loss but not the attention, so ``student (centred)``
    compares the scores with each row's mean removed from both: below ``uniform`` means
    the student's attention has learned something of the teacher's beyond uniform. All
    are means over heads and (query, key) pairs of real tokens.
    """
    sums = {"student": 0.0, "student (centred)": 0.0, "zero": 0.0, "uniform": 0.0}
    count = 0
    for s_example, t_example in zip(student, teacher, strict=True):
        targets = t_example.scores[[layer - 1 for layer in mapping]]  # (M, heads, n, n)
        scores = s_example.scores
        centred_targets = targets - targets.mean(axis=-1, keepdims=True)
        centred_scores = scores - scores.mean(axis=-1, keepdims=True)
        for name, error in (
            ("student", scores - targets),
            ("student (centred)", centred_scores - centred_targets),
            ("zero", targets),
            ("uniform", centred_targets),
        ):
            sums[name] = sums[name] + (error**2).sum(axis=(1, 2, 3))
        count += targets[0].size
    return {name: total / count for name, total in sums.items()}


def mapping_strategies(student_layers: int, teacher_layers: int) -> dict[str, list[int]]:
    """The paper's mappings as 1-based teacher layers for student layers 1..M.

    ``uniform`` is skipped when N is not a multiple of M (``distill.mapping`` rejects it).
    """
    strategies = {}
    for name in STRATEGIES:
        try:
            strategies[name] = layer_mapping(name, student_layers, teacher_layers)[1:]
        except ValueError:
            continue
    return strategies


def plot_layer_matrix(
    matrix: np.ndarray,
    title: str,
    colorbar_label: str,
    mappings: Mapping[str, Sequence[int]],
    cmap: str = "viridis",
) -> Figure:
    """Heat map of an ``(M, N)`` layer-pair matrix with mappings (1-based) drawn on it."""
    rows, cols = matrix.shape
    fig = Figure(figsize=(0.55 * cols + 3.0, 0.55 * rows + 2.2), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap=cmap, aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, label=colorbar_label)
    # Mappings often coincide (top = best CKA, say), so each gets its own marker shape and
    # its own offset within the student row: coinciding mappings sit side by side, not on
    # top of each other. Lines have a black outline so that a pale line stays visible on a
    # pale cell.
    if len(mappings) > len(MAPPING_STYLES):
        raise ValueError(f"at most {len(MAPPING_STYLES)} mappings fit on one heat map")
    offsets = np.linspace(-0.28, 0.28, len(mappings)) if len(mappings) > 1 else [0.0]
    outline = [patheffects.withStroke(linewidth=3.6, foreground="black")]
    for (name, teacher_layers), (marker, colour), offset in zip(
        mappings.items(), MAPPING_STYLES, offsets, strict=False
    ):
        ax.plot(
            np.asarray(teacher_layers) - 1,
            np.arange(rows) + offset,
            marker=marker,
            color=colour,
            markeredgecolor="black",
            linewidth=1.6,
            markersize=8,
            path_effects=outline,
            label=name,
        )
    ax.set_xticks(range(cols), labels=range(1, cols + 1))
    ax.set_yticks(range(rows), labels=range(1, rows + 1))
    ax.set_xlabel("teacher layer")
    ax.set_ylabel("student layer")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.18), ncol=len(mappings), fontsize=8)
    return fig


def plot_layer_similarity(
    cka: np.ndarray, mse: np.ndarray, mappings: Mapping[str, Sequence[int]] | None = None
) -> tuple[Figure, Figure]:
    """CKA and attention-MSE heat maps with the paper's mappings and the best monotone ones.

    ``mappings`` defaults to :func:`mapping_strategies`; the "best CKA" and "best MSE"
    mappings from :func:`best_monotone_mapping` are always added.
    """
    rows, cols = cka.shape
    base = dict(mappings) if mappings is not None else mapping_strategies(rows, cols)
    cka_mappings = {**base, "best CKA": [n + 1 for n in best_monotone_mapping(cka)]}
    mse_mappings = {**base, "best MSE": [n + 1 for n in best_monotone_mapping(-mse)]}
    return (
        plot_layer_matrix(cka, "Hidden-state linear CKA", "linear CKA", cka_mappings),
        plot_layer_matrix(mse, "Attention-map MSE", "MSE", mse_mappings, cmap="magma_r"),
    )
