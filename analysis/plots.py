"""Attention-map figures: one head, a layer x head grid, and teacher vs student.

Every function returns a matplotlib ``Figure`` (built with the object-oriented API, so it
works headless and never touches pyplot's global state); :func:`save_figure` writes it as
PNG and/or SVG. Matrices are ``(queries, keys)``: rows are the attending token.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def _draw_map(
    ax: Axes,
    matrix: np.ndarray,
    tokens: Sequence[str] | None,
    cmap: str = "viridis",
    vmin: float | None = 0.0,
    vmax: float | None = None,
):
    """Draw one map; token labels go on both axes when given (keys on x, queries on y)."""
    image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    if tokens is None:
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        positions = np.arange(len(tokens))
        ax.set_xticks(positions, labels=tokens, rotation=90, fontsize=8)
        ax.set_yticks(positions, labels=tokens, fontsize=8)
        ax.set_xlabel("key (attended to)")
        ax.set_ylabel("query (attending)")
    return image


def _map_size(n_tokens: int) -> float:
    """Inches per map side: big enough that token labels do not overlap."""
    return max(4.0, 0.22 * n_tokens + 1.5)


def plot_attention_head(
    attention: np.ndarray, tokens: Sequence[str], title: str = "Attention"
) -> Figure:
    """One head's ``(n, n)`` attention map with tokens on both axes and a colour bar."""
    size = _map_size(len(tokens))
    fig = Figure(figsize=(size + 1.0, size), layout="constrained")
    ax = fig.add_subplot()
    image = _draw_map(ax, attention, tokens)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="attention probability")
    return fig


def plot_attention_grid(
    attentions: np.ndarray,
    title: str = "Attention per layer and head",
    layer_labels: Sequence[str] | None = None,
    difference: bool = False,
) -> Figure:
    """All heads of all layers, ``(layers, heads, n, n)``, as a grid sharing one colour scale.

    Tokens are left out: at this size they are unreadable, and the grid is for spotting
    patterns (diagonals, vertical [CLS]/[SEP] stripes) across heads, not for reading values.
    ``layer_labels`` name the rows (default ``layer 1`` ...; a student's rows can say which
    teacher layer they copy). ``difference`` draws signed maps (student minus teacher) on a
    diverging scale centred on zero.
    """
    layers, heads = attentions.shape[:2]
    labels = layer_labels or [f"layer {layer}" for layer in range(1, layers + 1)]
    if len(labels) != layers:
        raise ValueError(f"{len(labels)} layer labels for {layers} layers")
    fig = Figure(figsize=(1.6 * heads + 1.2, 1.6 * layers + 0.6), layout="constrained")
    axes = fig.subplots(layers, heads, squeeze=False)
    if difference:
        limit = float(np.abs(attentions).max()) or 1.0
        scale = {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}
    else:
        scale = {"vmin": 0.0, "vmax": float(attentions.max())}
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer, head]
            image = _draw_map(ax, attentions[layer, head], None, **scale)
            if layer == 0:
                ax.set_title(f"head {head + 1}", fontsize=9)
            if head == 0:
                ax.set_ylabel(labels[layer], fontsize=9)
    colour_label = "difference of attention" if difference else "attention probability"
    fig.colorbar(image, ax=axes, label=colour_label, shrink=0.8)
    fig.suptitle(title)
    return fig


def plot_teacher_student(
    teacher: np.ndarray,
    student: np.ndarray,
    tokens: Sequence[str],
    teacher_title: str = "Teacher",
    student_title: str = "Student",
) -> Figure:
    """Teacher map, mapped student map, and student minus teacher, side by side.

    Both maps share one colour scale so they compare by eye; the difference uses a
    diverging scale centred on zero (red: student attends more, blue: less).
    """
    size = _map_size(len(tokens))
    fig = Figure(figsize=(3 * (size + 1.0), size), layout="constrained")
    axes = fig.subplots(1, 3)
    vmax = float(max(teacher.max(), student.max()))
    for ax, matrix, title in zip(
        axes[:2], (teacher, student), (teacher_title, student_title), strict=True
    ):
        image = _draw_map(ax, matrix, tokens, vmax=vmax)
        ax.set_title(title)
        fig.colorbar(image, ax=ax, label="attention probability", shrink=0.8)
    difference = student - teacher
    limit = float(np.abs(difference).max()) or 1.0
    image = _draw_map(axes[2], difference, tokens, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[2].set_title("Student - teacher")
    fig.colorbar(image, ax=axes[2], label="difference", shrink=0.8)
    return fig


def save_figure(fig: Figure, path: str | Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Save ``fig`` once per format next to ``path`` (its suffix is replaced) and return paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = []
    for extension in formats:
        target = path.with_suffix(f".{extension}")
        fig.savefig(target, dpi=150, bbox_inches="tight")
        saved.append(target)
    return saved
