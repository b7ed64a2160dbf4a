"""Masked-LM training data: a sentence-per-line corpus packed into segments, and masking.

The corpus format is BERT's pre-training text: one sentence a line, a blank line between
documents. Consecutive sentences of one document are packed until a segment holds at
least ``min_words`` words, then cut to ``max_pieces`` word pieces, so every segment has
real context and no segment crosses a document boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase as Tokenizer

from augment.documents import read_documents


def pack_segments(document: list[str], min_words: int) -> Iterator[str]:
    """Join consecutive sentences of a document into segments of at least ``min_words`` words."""
    segment: list[str] = []
    words = 0
    for sentence in document:
        segment.append(sentence)
        words += len(sentence.split())
        if words >= min_words:
            yield " ".join(segment)
            segment, words = [], 0
    if segment:
        yield " ".join(segment)


def split_documents(corpus: Path, held_out_every: int) -> tuple[list[list[str]], list[list[str]]]:
    """Split the documents into (train, held-out): every ``held_out_every``-th one is held out."""
    train, held_out = [], []
    for index, document in enumerate(read_documents(corpus)):
        (held_out if index % held_out_every == held_out_every - 1 else train).append(document)
    return train, held_out


def encode_segments(
    documents: list[list[str]], tokenizer: Tokenizer, min_words: int, max_pieces: int
) -> list[list[int]]:
    """Token ids (with [CLS] and [SEP]) of every packed segment, cut to ``max_pieces``."""
    texts = [segment for document in documents for segment in pack_segments(document, min_words)]
    encoded = tokenizer(texts, truncation=True, max_length=max_pieces)["input_ids"]
    return [ids for ids in encoded if len(ids) > 2]


def mask_batch(
    segments: list[list[int]], tokenizer: Tokenizer, generator: torch.Generator, rate: float = 0.15
) -> dict[str, torch.Tensor]:
    """Pad ``segments`` and mask ``rate`` of their pieces with BERT's 80/10/10 rule.

    Returns input ids, attention mask, and ``labels`` holding the original id at masked
    positions and -100 elsewhere. Every segment gets at least one masked piece.
    """
    length = max(len(ids) for ids in segments)
    input_ids = torch.full((len(segments), length), tokenizer.pad_token_id)
    for row, ids in enumerate(segments):
        input_ids[row, : len(ids)] = torch.tensor(ids)
    attention_mask = (input_ids != tokenizer.pad_token_id).long()
    special = torch.tensor(
        [
            tokenizer.get_special_tokens_mask(row.tolist(), already_has_special_tokens=True)
            for row in input_ids
        ],
        dtype=torch.bool,
    )
    candidates = ~special & attention_mask.bool()
    chosen = (torch.rand(input_ids.shape, generator=generator) < rate) & candidates
    # A segment without any chosen piece gets its first candidate masked.
    empty = ~chosen.any(dim=1)
    chosen[empty, candidates[empty].float().argmax(dim=1)] = True
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    roll = torch.rand(input_ids.shape, generator=generator)
    masked_ids = input_ids.clone()
    masked_ids[chosen & (roll < 0.8)] = tokenizer.mask_token_id
    random_ids = torch.randint(len(tokenizer), input_ids.shape, generator=generator)
    replace = chosen & (roll >= 0.8) & (roll < 0.9)
    masked_ids[replace] = random_ids[replace]
    return {"input_ids": masked_ids, "attention_mask": attention_mask, "labels": labels}
