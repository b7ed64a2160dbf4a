"""Per-head behaviour in the spirit of Clark et al. (2019), "What Does BERT Look At?".

Two views of the heads of one or more models run on the *same* inputs:

* :func:`head_statistics` summarises each head by where it looks on average (the [CLS] and
  [SEP] tokens, punctuation, itself, its neighbours) and how spread out it looks (entropy).
* :func:`js_distance_matrix` and :func:`embed_heads` compare heads with each other: two
  heads are close when they put similar distributions on every query; multidimensional
  scaling of those distances shows clusters, and drawing teacher and student heads in one
  picture shows which teacher behaviours the student kept.

All functions take attention probabilities, queries on rows, padding already removed (as
:class:`analysis.extract.Example` provides them, piece- or word-level).
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy.spatial.distance import jensenshannon
from scipy.special import entr
from sklearn.manifold import MDS

STATISTICS = ("cls", "sep", "punct", "self", "prev", "next", "entropy")


def is_punctuation(token: str) -> bool:
    """True for tokens made only of ASCII punctuation (``.``, ``?!``); ``##`` is ignored."""
    text = token.removeprefix("##")
    return bool(text) and all(char in string.punctuation for char in text)


def head_statistics(
    attentions: Sequence[np.ndarray], tokens: Sequence[Sequence[str]]
) -> pd.DataFrame:
    """Mean behaviour of each head over all queries of all examples.

    ``attentions[i]`` is ``(layers, heads, n, n)`` for the example whose tokens are
    ``tokens[i]``. Returns one row per head (``layer`` and ``head`` are 1-based) with the
    mean attention mass a query puts on [CLS], [SEP], punctuation and itself; the mean
    attention from each token to the previous (``prev``) and to the next token (``next``),
    over the queries that have one; and the mean entropy of a query's distribution in nats.
    Averaging over queries rather than over examples weights long and short inputs alike
    per token, as Clark et al. do.
    """
    sums = {name: 0.0 for name in STATISTICS}
    counts = {name: 0 for name in STATISTICS}
    for attention, example_tokens in zip(attentions, tokens, strict=True):
        keys = np.asarray(example_tokens)
        targets = {
            "cls": keys == "[CLS]",
            "sep": keys == "[SEP]",
            "punct": np.array([is_punctuation(token) for token in example_tokens]),
        }
        per_query = {name: attention[..., mask].sum(-1) for name, mask in targets.items()}
        per_query["self"] = np.diagonal(attention, axis1=-2, axis2=-1)
        per_query["prev"] = np.diagonal(attention, offset=-1, axis1=-2, axis2=-1)
        per_query["next"] = np.diagonal(attention, offset=1, axis1=-2, axis2=-1)
        per_query["entropy"] = entr(attention).sum(-1)
        for name, values in per_query.items():
            sums[name] = sums[name] + values.sum(-1)
            counts[name] += values.shape[-1]
    layers, heads = np.shape(sums["self"])
    layer_index, head_index = np.meshgrid(
        np.arange(1, layers + 1), np.arange(1, heads + 1), indexing="ij"
    )
    table = {"layer": layer_index.ravel(), "head": head_index.ravel()}
    for name in STATISTICS:
        table[name] = (sums[name] / counts[name]).ravel()
    return pd.DataFrame(table)


def joint_heads(
    attentions_by_model: Mapping[str, Sequence[np.ndarray]],
) -> tuple[list[np.ndarray], pd.DataFrame]:
    """Pool the heads of several models run on the same inputs into one list per example.

    Returns, per example, an array ``(all heads, n, n)`` and a DataFrame labelling those
    heads (``model``, ``layer``, ``head``, and ``depth`` = layer / number of layers, which
    lets a 4-layer student and a 12-layer teacher share one colour scale).
    """
    per_model = list(attentions_by_model.values())
    n_examples = len(per_model[0])
    if any(len(examples) != n_examples for examples in per_model):
        raise ValueError("every model must be run on the same examples")
    pooled = [
        np.concatenate([examples[i].reshape(-1, *examples[i].shape[-2:]) for examples in per_model])
        for i in range(n_examples)
    ]
    labels = []
    for model, examples in attentions_by_model.items():
        layers, heads = examples[0].shape[:2]
        for layer in range(1, layers + 1):
            for head in range(1, heads + 1):
                labels.append(
                    {"model": model, "layer": layer, "head": head, "depth": layer / layers}
                )
    return pooled, pd.DataFrame(labels)


def js_distance_matrix(heads_per_example: Sequence[np.ndarray]) -> np.ndarray:
    """Mean Jensen-Shannon distance (base 2, so in [0, 1]) between every pair of heads.

    ``heads_per_example[i]`` is ``(heads, n, n)``; the distance between two heads is the
    JS distance between their attention distributions for the same query, averaged over
    all queries of all examples.
    """
    total = 0.0
    queries = 0
    for heads in heads_per_example:
        heads = heads.astype(np.float64)
        # For nearly identical rows the divergence can round to a tiny negative number whose
        # square root scipy returns as NaN; the true distance there is 0.
        with np.errstate(invalid="ignore"):
            per_row = [jensenshannon(head[None], heads, base=2, axis=-1) for head in heads]
        per_pair = np.nan_to_num(np.stack(per_row), nan=0.0).sum(-1)
        total = total + per_pair
        queries += heads.shape[-2]
    distances = total / queries
    return (distances + distances.T) / 2


def embed_heads(distances: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D coordinates whose Euclidean distances approximate ``distances`` (metric MDS)."""
    mds = MDS(n_components=2, metric="precomputed", init="classical_mds", random_state=seed)
    return mds.fit_transform(distances)


def plot_head_embedding(
    coordinates: np.ndarray, labels: pd.DataFrame, title: str = "Heads (MDS of JS distances)"
) -> Figure:
    """Scatter heads in the MDS plane: one marker per model, colour = relative depth."""
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.add_subplot()
    models = list(labels["model"].unique())
    markers = dict(zip(models, "os^Dv*", strict=False))
    for model in models:
        rows = labels.index[labels["model"] == model]
        points = ax.scatter(
            coordinates[rows, 0],
            coordinates[rows, 1],
            c=labels.loc[rows, "depth"],
            cmap="viridis",
            vmin=0.0,
            vmax=1.0,
            marker=markers[model],
            s=50,
            edgecolors="black",
            linewidths=0.5,
        )
    fig.colorbar(points, ax=ax, label="relative depth (layer / layers)")
    # Grey legend markers: the marker tells models apart, colour means depth.
    handles = [
        Line2D([], [], marker=markers[m], linestyle="", color="lightgray", markeredgecolor="black")
        for m in models
    ]
    ax.legend(handles, models, title="model")
    ax.set_xlabel("MDS dimension 1")
    ax.set_ylabel("MDS dimension 2")
    ax.set_title(title)
    return fig


def plot_head_statistics(
    stats: pd.DataFrame,
    title: str = "Head statistics",
    layer_labels: Sequence[str] | None = None,
) -> Figure:
    """One layer x head heat map per statistic of :func:`head_statistics`.

    ``layer_labels`` replace the layer numbers on the rows (a student's rows can name the
    teacher layer they copy, e.g. ``1 (T2)``).
    """
    columns = 4
    rows = -(-len(STATISTICS) // columns)
    fig = Figure(figsize=(3.2 * columns, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[len(STATISTICS) :]:
        fig.delaxes(ax)
    for ax, name in zip(axes, STATISTICS, strict=False):
        grid = stats.pivot(index="layer", columns="head", values=name)
        vmax = None if name == "entropy" else 1.0
        image = ax.imshow(grid.to_numpy(), cmap="viridis", vmin=0.0, vmax=vmax, aspect="auto")
        ax.set_title(name)
        ax.set_xticks(range(grid.shape[1]), labels=grid.columns, fontsize=7)
        ax.set_yticks(range(grid.shape[0]), labels=layer_labels or grid.index, fontsize=7)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        fig.colorbar(
            image, ax=ax, shrink=0.8, label="nats" if name == "entropy" else "mean attention"
        )
    fig.suptitle(title)
    return fig
