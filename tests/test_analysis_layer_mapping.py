"""Linear CKA, layer-pair matrices, mapping strategies and the monotone DP mapping."""

from __future__ import annotations

from itertools import combinations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from tiny import make_masked_lm  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

from analysis.extract import Example, extract  # noqa: E402
from analysis.layer_mapping import (  # noqa: E402
    attention_loss_baselines,
    attention_mse_matrix,
    best_monotone_mapping,
    cka_matrix,
    linear_cka,
    mapping_strategies,
    plot_layer_matrix,
    plot_layer_similarity,
)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_cka_of_a_representation_with_itself_is_one(rng):
    x = rng.normal(size=(50, 8))
    assert linear_cka(x, x) == pytest.approx(1.0)


def test_cka_invariant_to_orthogonal_transform_and_isotropic_scaling(rng):
    x = rng.normal(size=(50, 8))
    orthogonal, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert linear_cka(x, 3.5 * x @ orthogonal) == pytest.approx(1.0)
    # also across widths: an isometric embedding into 12 dimensions
    wide, _ = np.linalg.qr(rng.normal(size=(12, 8)))
    assert linear_cka(x, x @ wide.T) == pytest.approx(1.0)


def test_cka_is_symmetric_and_below_one_for_unrelated_data(rng):
    x, y = rng.normal(size=(50, 8)), rng.normal(size=(50, 6))
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x))
    assert 0.0 < linear_cka(x, y) < 0.5


def brute_force(similarity: np.ndarray) -> tuple[int, ...]:
    rows, cols = similarity.shape
    return max(
        combinations(range(cols), rows),
        key=lambda columns: similarity[range(rows), list(columns)].sum(),
    )


@pytest.mark.parametrize("shape", [(1, 4), (2, 2), (3, 5), (4, 7), (4, 12)])
def test_best_monotone_mapping_matches_brute_force(rng, shape):
    for _ in range(20):
        similarity = rng.normal(size=shape)
        mapping = best_monotone_mapping(similarity)
        assert tuple(mapping) == brute_force(similarity)


def test_best_monotone_mapping_rejects_more_student_than_teacher_layers():
    with pytest.raises(ValueError):
        best_monotone_mapping(np.zeros((3, 2)))


def test_mapping_strategies_follow_the_paper():
    assert mapping_strategies(4, 12) == {
        "uniform": [3, 6, 9, 12],
        "top": [9, 10, 11, 12],
        "bottom": [1, 2, 3, 4],
    }
    assert set(mapping_strategies(3, 4)) == {"top", "bottom"}  # 4 is no multiple of 3


@pytest.fixture(scope="module")
def teacher_and_student(tmp_path_factory):
    teacher_dir = make_masked_lm(tmp_path_factory.mktemp("teacher"), layers=4, seed=0)
    student_dir = make_masked_lm(tmp_path_factory.mktemp("student"), layers=2, seed=1)
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    sentences = ["unbelievable film .", "how can anyone drive such a small car ?"]
    return tuple(
        extract(AutoModel.from_pretrained(directory), tokenizer, sentences)
        for directory in (teacher_dir, student_dir)
    )


def test_layer_pair_matrices_on_tiny_models(teacher_and_student):
    teacher, student = teacher_and_student
    cka = cka_matrix(student, teacher)
    mse = attention_mse_matrix(student, teacher)
    assert cka.shape == mse.shape == (2, 4)
    assert np.all((cka > 0) & (cka <= 1 + 1e-9))
    assert np.all(mse >= 0)
    np.testing.assert_allclose(np.diag(cka_matrix(teacher, teacher)), 1.0, rtol=1e-6)  # float32
    np.testing.assert_allclose(np.diag(attention_mse_matrix(teacher, teacher)), 0.0)
    assert attention_mse_matrix(student, teacher, use_scores=True).shape == (2, 4)

    cka_figure, mse_figure = plot_layer_similarity(cka, mse)
    assert len(cka_figure.axes) == len(mse_figure.axes) == 2  # heat map + colour bar
    labels = [line.get_label() for line in cka_figure.axes[0].get_lines()]
    assert labels == ["uniform", "top", "bottom", "best CKA"]


def _scores_only(scores: np.ndarray) -> Example:
    n = scores.shape[-1]
    return Example(["t"] * n, scores, scores, np.zeros((1, n, 2)), [[i] for i in range(n)])


def test_attention_loss_baselines_on_hand_made_scores():
    # One head, two tokens; the teacher's layer 2 rows are (1, 3) and (0, 0).
    teacher = np.zeros((2, 1, 2, 2))
    teacher[1, 0] = [[1.0, 3.0], [0.0, 0.0]]
    uniform_student = np.full((1, 1, 2, 2), 7.0)  # constant scores: uniform attention
    losses = attention_loss_baselines([_scores_only(uniform_student)], [_scores_only(teacher)], [2])
    assert losses["zero"] == pytest.approx([(1 + 9) / 4])
    assert losses["uniform"] == pytest.approx([(1 + 1) / 4])  # row means 2 and 0
    assert losses["student"] == pytest.approx([(36 + 16 + 49 + 49) / 4])
    assert losses["student (centred)"] == pytest.approx(losses["uniform"])  # attends uniformly
    shifted = teacher[1:] + np.array([5.0, -2.0])[None, None, :, None]  # same attention
    perfect = attention_loss_baselines([_scores_only(shifted)], [_scores_only(teacher)], [2])
    assert perfect["student"] == pytest.approx([(25 + 25 + 4 + 4) / 4])
    assert perfect["student (centred)"] == pytest.approx([0.0])


def test_coinciding_mappings_stay_distinguishable():
    """Same mapping three times: different marker shapes, side by side, outlined lines."""
    same = [2, 4, 6]
    figure = plot_layer_matrix(
        np.full((3, 6), 0.99),  # pale cells everywhere
        "CKA",
        "linear CKA",
        {"bottom": same, "adaptive": same, "best CKA": same},
    )
    lines = figure.axes[0].get_lines()
    assert len({line.get_marker() for line in lines}) == 3
    rows = [tuple(line.get_ydata()) for line in lines]
    assert len(set(rows)) == 3  # offset within each student row
    assert all(abs(y - round(y)) < 0.5 for row in rows for y in row)  # still in their row
    assert all(line.get_path_effects() for line in lines)  # dark outline on every line
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend == ["bottom", "adaptive", "best CKA"]
