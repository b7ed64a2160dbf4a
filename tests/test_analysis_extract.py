"""Extraction of attention, scores and hidden states, piece- and word-level."""

from __future__ import annotations

import numpy as np
import pytest
from tiny import make_masked_lm
from transformers import AutoModel, AutoTokenizer

from analysis.extract import extract, to_word_level

LAYERS, HEADS, HIDDEN = 2, 4, 32


@pytest.fixture(scope="module")
def model_and_tokenizer(tmp_path_factory):
    directory = make_masked_lm(tmp_path_factory.mktemp("tiny"), layers=LAYERS, heads=HEADS)
    return AutoModel.from_pretrained(directory), AutoTokenizer.from_pretrained(directory)


@pytest.fixture(scope="module")
def examples(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    return extract(
        model,
        tokenizer,
        ["unbelievable film .", "how can anyone drive such a small car ?"],
        pairs=["it was fun", "bad"],
    )


def test_shapes_and_padding_removed(examples):
    short, long = examples
    assert short.tokens == [
        "[CLS]", "un", "##believ", "##able", "film", ".", "[SEP]", "it", "was", "fun", "[SEP]"
    ]  # fmt: skip
    n = len(short.tokens)
    assert short.attentions.shape == (LAYERS, HEADS, n, n)
    assert short.scores.shape == (LAYERS, HEADS, n, n)
    assert short.hidden_states.shape == (LAYERS + 1, n, HIDDEN)
    assert long.attentions.shape[-1] == len(long.tokens) == 13


def test_piece_probabilities_sum_to_one_over_keys(examples):
    for example in examples:
        np.testing.assert_allclose(example.attentions.sum(-1), 1.0, atol=1e-5)


def test_scores_are_the_logits_of_the_probabilities(examples):
    example = examples[0]
    logits = example.scores - example.scores.max(-1, keepdims=True)
    softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(softmax, example.attentions, atol=1e-5)


def test_words_keep_specials_and_merge_pieces_per_segment(examples):
    short = examples[0]
    assert short.words == [
        "[CLS]",
        "unbelievable",
        "film",
        ".",
        "[SEP]",
        "it",
        "was",
        "fun",
        "[SEP]",
    ]
    assert short.word_pieces[1] == [1, 2, 3]


def test_word_attention_sums_to_keys_and_averages_queries(examples):
    short = examples[0]
    words = short.word_attentions()
    assert words.shape == (LAYERS, HEADS, 9, 9)
    np.testing.assert_allclose(words.sum(-1), 1.0, atol=1e-5)
    pieces = short.attentions
    # query "film" (piece 4) to key "unbelievable": summed over its three pieces
    np.testing.assert_allclose(words[..., 2, 1], pieces[..., 4, 1:4].sum(-1), atol=1e-6)
    # query "unbelievable" to key "film": averaged over its three pieces
    np.testing.assert_allclose(words[..., 1, 2], pieces[..., 1:4, 4].mean(-1), atol=1e-6)


def test_to_word_level_on_a_hand_made_matrix():
    attention = np.array(
        [
            [0.5, 0.25, 0.25],
            [0.0, 1.0, 0.0],
            [0.2, 0.2, 0.6],
        ]
    )
    words = to_word_level(attention, [[0], [1, 2]])
    np.testing.assert_allclose(words, [[0.5, 0.5], [0.1, 0.9]])


def test_batches_give_the_same_examples(model_and_tokenizer, examples):
    model, tokenizer = model_and_tokenizer
    one_by_one = extract(
        model,
        tokenizer,
        ["unbelievable film .", "how can anyone drive such a small car ?"],
        pairs=["it was fun", "bad"],
        batch_size=1,
    )
    for single, batched in zip(one_by_one, examples, strict=True):
        assert single.tokens == batched.tokens
        np.testing.assert_allclose(single.attentions, batched.attentions, atol=1e-5)
        np.testing.assert_allclose(single.hidden_states, batched.hidden_states, atol=1e-4)
