"""Tiny BERT models and tokenizers that tests build in seconds.

Every test that needs a model builds one here instead of downloading: a WordPiece
vocabulary over a small fixed word list (with a few ``##`` pieces so that some words
split), and randomly initialised BERT models of any size over it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "[unused1]"]
WORDS = [
    "the",
    "a",
    "an",
    "how",
    "can",
    "anyone",
    "drive",
    "such",
    "small",
    "car",
    "vehicle",
    "truck",
    "big",
    "fast",
    "slow",
    "good",
    "bad",
    "movie",
    "film",
    "great",
    "terrible",
    "boring",
    "fun",
    "is",
    "was",
    "not",
    "very",
    "really",
    "quite",
    "it",
    "this",
    "that",
    "i",
    "you",
    "he",
    "she",
    "we",
    "they",
    "and",
    "or",
    "but",
    "of",
    "to",
    "in",
    "on",
    "with",
    "for",
    "at",
    "by",
    "from",
    "as",
    "story",
    "plot",
    "actor",
    "actors",
    "funny",
    "sad",
    "happy",
    "love",
    "hate",
    "new",
    "old",
    "red",
    "blue",
    "green",
    ".",
    ",",
    "!",
    "?",
    "'",
    "-",
    "un",
    "##believ",
    "##able",
    "##ly",
    "##s",
    "##ing",
    "##ed",
    "play",
    "cat",
    "dog",
]


def make_tokenizer(directory: Path) -> BertTokenizerFast:
    """An uncased fast WordPiece tokenizer over the tiny vocabulary, saved in ``directory``."""
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS + WORDS)}
    tokenizer = BertTokenizerFast(vocab=vocab, do_lower_case=True)
    tokenizer.save_pretrained(directory)
    return tokenizer


def tiny_config(
    vocab_size: int,
    layers: int = 2,
    hidden: int = 32,
    heads: int = 4,
    intermediate: int = 64,
    max_positions: int = 128,
    **extra: object,
) -> BertConfig:
    """A BERT config small enough that forward and backward passes take milliseconds."""
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=max_positions,
        **extra,
    )


def make_masked_lm(directory: Path, seed: int = 0, **config: object) -> Path:
    """Save a randomly initialised ``BertForMaskedLM`` and its tokenizer in ``directory``."""
    tokenizer = make_tokenizer(directory)
    torch.manual_seed(seed)
    model = BertForMaskedLM(tiny_config(len(tokenizer), **config))
    model.save_pretrained(directory)
    return directory
