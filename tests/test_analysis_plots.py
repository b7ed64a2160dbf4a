"""Attention figures, PNG/SVG saving, the bertviz layout and the all-figures demo."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from tiny import make_masked_lm  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

from analysis.bertviz_view import bertviz_html, show, to_bertviz  # noqa: E402
from analysis.demo import render_all  # noqa: E402
from analysis.extract import extract  # noqa: E402
from analysis.plots import (  # noqa: E402
    plot_attention_grid,
    plot_attention_head,
    plot_teacher_student,
    save_figure,
)

TOKENS = ["[CLS]", "un", "##believ", "##able", "film", "[SEP]"]


@pytest.fixture
def attention():
    rng = np.random.default_rng(0)
    return rng.dirichlet(np.ones(len(TOKENS)), size=(3, 2, len(TOKENS)))  # layers, heads


def test_single_head_has_tokens_on_both_axes(attention):
    fig = plot_attention_head(attention[0, 0], TOKENS, "L1 H1")
    ax, colour_bar = fig.axes
    assert [label.get_text() for label in ax.get_xticklabels()] == TOKENS
    assert [label.get_text() for label in ax.get_yticklabels()] == TOKENS
    assert ax.get_title() == "L1 H1"


def test_grid_has_one_axis_per_head_plus_colour_bar(attention):
    assert len(plot_attention_grid(attention).axes) == 3 * 2 + 1


def test_teacher_student_has_three_maps_with_colour_bars(attention):
    fig = plot_teacher_student(attention[2, 0], attention[0, 1], TOKENS)
    assert len(fig.axes) == 6
    assert fig.axes[2].get_title() == "Student - teacher"


def test_save_png_and_svg(attention, tmp_path):
    saved = save_figure(plot_attention_grid(attention), tmp_path / "sub" / "grid", ("png", "svg"))
    assert [path.name for path in saved] == ["grid.png", "grid.svg"]
    assert saved[0].read_bytes().startswith(b"\x89PNG")


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    teacher_dir = make_masked_lm(tmp_path_factory.mktemp("teacher"), layers=4, seed=0)
    student_dir = make_masked_lm(tmp_path_factory.mktemp("student"), layers=2, seed=1)
    return (
        AutoModel.from_pretrained(teacher_dir),
        AutoModel.from_pretrained(student_dir),
        AutoTokenizer.from_pretrained(teacher_dir),
    )


def test_bertviz_layout(tiny_pair):
    teacher, _, tokenizer = tiny_pair
    example = extract(teacher, tokenizer, ["unbelievable film ."])[0]
    attention, tokens = to_bertviz(example)
    assert len(attention) == 4 and tokens == example.tokens
    assert attention[0].shape == (1, 4, len(tokens), len(tokens))
    assert attention[0].dtype == torch.float32
    word_attention, words = to_bertviz(example, word_level=True)
    assert words == ["[CLS]", "unbelievable", "film", ".", "[SEP]"]
    assert word_attention[-1].shape == (1, 4, 5, 5)


def test_demo_renders_every_figure(tiny_pair, tmp_path):
    saved = render_all(*tiny_pair, tmp_path)
    assert len(saved) == 10
    assert all(path.suffix == ".png" and path.stat().st_size > 0 for path in saved)


def test_bertviz_outside_jupyter_says_so(tiny_pair):
    teacher, _, tokenizer = tiny_pair
    example = extract(teacher, tokenizer, ["unbelievable film ."])[0]
    with pytest.raises(RuntimeError, match="only inside Jupyter.*python -m analysis attention"):
        show(example)


@pytest.mark.parametrize("view", ["head", "model"])
def test_bertviz_page_numbers_layers_from_one(tiny_pair, view):
    pytest.importorskip("bertviz", reason='bertviz is the optional "viz" extra')
    teacher, _, tokenizer = tiny_pair
    example = extract(teacher, tokenizer, ["unbelievable film ."])[0]
    page = bertviz_html(example, view)
    assert "+ 1)" in page and ".text(layer)" not in page and ".text(config.layers[i])" not in page


def test_grid_rows_name_the_teacher_layer_they_copy(attention):
    labels = ["layer 1 (copies teacher layer 2)", "layer 2 (copies 4)", "layer 3 (copies 6)"]
    fig = plot_attention_grid(attention, "student", labels)
    rows = [ax.get_ylabel() for ax in fig.axes[:-1] if ax.get_ylabel()]
    assert rows == labels


def test_difference_grid_is_centred_on_zero(attention):
    difference = attention - attention[::-1]
    fig = plot_attention_grid(difference, "difference", difference=True)
    low, high = fig.axes[0].images[0].get_clim()
    assert low == -high == -float(abs(difference).max())
