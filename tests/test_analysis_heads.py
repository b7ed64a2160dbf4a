"""Per-head statistics on hand-made attention maps, JS distances and the MDS embedding."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from analysis.heads import (  # noqa: E402
    STATISTICS,
    embed_heads,
    head_statistics,
    is_punctuation,
    joint_heads,
    js_distance_matrix,
    plot_head_embedding,
    plot_head_statistics,
)

TOKENS = ["[CLS]", "the", ",", "cat", "[SEP]"]


def hand_made_heads() -> np.ndarray:
    """One layer, three heads over TOKENS: all-to-[CLS], uniform, and previous-token."""
    n = len(TOKENS)
    to_cls = np.zeros((n, n))
    to_cls[:, 0] = 1.0
    uniform = np.full((n, n), 1.0 / n)
    previous = np.eye(n, k=-1)
    previous[0, 0] = 1.0  # [CLS] has no previous token and attends to itself
    return np.stack([to_cls, uniform, previous])[None]


def test_statistics_of_hand_made_heads():
    stats = head_statistics([hand_made_heads()], [TOKENS]).set_index(["layer", "head"])
    expected = {
        1: {"cls": 1.0, "sep": 0.0, "punct": 0.0, "self": 0.2, "prev": 0.25, "next": 0.0,
            "entropy": 0.0},
        2: {"cls": 0.2, "sep": 0.2, "punct": 0.2, "self": 0.2, "prev": 0.2, "next": 0.2,
            "entropy": np.log(5)},
        3: {"cls": 0.4, "sep": 0.0, "punct": 0.2, "self": 0.2, "prev": 1.0, "next": 0.0,
            "entropy": 0.0},
    }  # fmt: skip
    assert list(stats.columns) == list(STATISTICS)
    for head, values in expected.items():
        for name, value in values.items():
            assert stats.loc[(1, head), name] == pytest.approx(value), (head, name)


def test_statistics_average_over_queries_of_all_examples():
    # Self-attention everywhere: [CLS] gets 1 query out of 2 tokens, then 1 out of 3.
    short, long = np.eye(2)[None, None], np.eye(3)[None, None]
    stats = head_statistics([short, long], [["[CLS]", "a"], ["[CLS]", "a", "[SEP]"]])
    assert stats.loc[0, "cls"] == pytest.approx(2 / 5)
    assert stats.loc[0, "self"] == pytest.approx(1.0)
    assert stats.loc[0, "next"] == pytest.approx(0.0)


def test_punctuation():
    assert is_punctuation(".") and is_punctuation("?!") and is_punctuation("'")
    assert not is_punctuation("cat") and not is_punctuation("[SEP]") and not is_punctuation("##s")


def test_js_distance_identical_heads_zero_disjoint_heads_one():
    diagonal = np.eye(3)
    shifted = np.roll(np.eye(3), 1, axis=1)  # every query looks somewhere else
    distances = js_distance_matrix([np.stack([diagonal, diagonal, shifted])])
    np.testing.assert_allclose(distances, [[0, 0, 1], [0, 0, 1], [1, 1, 0]], atol=1e-12)


def test_js_distance_averages_over_queries():
    # Heads agree on one query of two: the mean distance is (0 + 1) / 2.
    a = np.array([[1.0, 0.0], [1.0, 0.0]])
    b = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert js_distance_matrix([np.stack([a, b])])[0, 1] == pytest.approx(0.5)


def test_js_distance_of_nearly_identical_heads_is_zero_not_nan():
    # scipy alone returns NaN here: the divergence rounds to a tiny negative number
    p = np.array(
        [
            0.022304254247973415,
            1.4099912993564575e-19,
            0.027964164280902787,
            0.0010126641800690464,
            1.8459179763784157e-05,
            0.948700458111291,
        ]
    )
    q = np.array([0.02230425424895111, 1.4099912993550474e-19, 0.02796416428087482,
                  0.0010126641800680335, 1.8459179763765696e-05, 0.9487004581103422])  # fmt: skip
    distances = js_distance_matrix([np.stack([np.tile(p, (6, 1)), np.tile(q, (6, 1))])])
    np.testing.assert_allclose(distances, 0.0, atol=1e-6)


def test_mds_embedding_keeps_the_distances():
    distances = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    points = embed_heads(distances)
    assert points.shape == (3, 2)
    assert np.linalg.norm(points[0] - points[1]) == pytest.approx(0.0, abs=1e-3)
    assert np.linalg.norm(points[0] - points[2]) == pytest.approx(1.0, abs=1e-2)


def test_joint_heads_labels_and_pooled_shapes():
    rng = np.random.default_rng(0)
    teacher = [rng.dirichlet(np.ones(n), size=(4, 2, n)) for n in (5, 6)]
    student = [rng.dirichlet(np.ones(n), size=(2, 2, n)) for n in (5, 6)]
    pooled, labels = joint_heads({"teacher": teacher, "student": student})
    assert [p.shape for p in pooled] == [(12, 5, 5), (12, 6, 6)]
    assert list(labels["model"]) == ["teacher"] * 8 + ["student"] * 4
    assert labels["depth"].max() == 1.0
    np.testing.assert_array_equal(pooled[0][8], student[0][0, 0])

    fig = plot_head_embedding(embed_heads(js_distance_matrix(pooled)), labels)
    assert len(fig.axes) == 2  # scatter + colour bar


def test_statistics_plot_has_one_map_and_colour_bar_per_statistic():
    fig = plot_head_statistics(head_statistics([hand_made_heads()], [TOKENS]))
    assert len(fig.axes) == 2 * len(STATISTICS)
