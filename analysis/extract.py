"""Pull attention probabilities, pre-softmax scores and hidden states out of a BERT model.

Everything downstream (plots, head statistics, layer similarity) looks at one sentence at a
time with padding removed, so :func:`extract` runs the model batch by batch and returns one
:class:`Example` per sentence (or sentence pair) holding NumPy arrays.

Attention can also be read per *word* instead of per word piece, following Clark et al.
(2019, "What Does BERT Look At?"): attention *to* a split word is the sum over its pieces
(the probability mass the query puts on the word) and attention *from* a split word is the
mean over its pieces (so every row still sums to one). [CLS] and [SEP] stay words of their
own because several heads specialise on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

import numpy as np
import torch
from transformers import BatchEncoding, PreTrainedModel, PreTrainedTokenizerFast

from distill.attention import forward_with_scores


@dataclass(frozen=True)
class Example:
    """Everything one model computed for one input, padding removed.

    ``attentions`` and ``scores`` are ``(layers, heads, n, n)`` with queries on rows and keys
    on columns; ``scores`` are the pre-softmax ``Q K^T / sqrt(d_k)`` TinyBERT distils (no
    padding mask added). ``hidden_states`` is ``(layers + 1, n, hidden)`` with the embedding
    output first. ``word_pieces[w]`` lists the piece positions of word ``w``.
    """

    tokens: list[str]
    attentions: np.ndarray
    scores: np.ndarray
    hidden_states: np.ndarray
    word_pieces: list[list[int]]

    @property
    def words(self) -> list[str]:
        """Words rebuilt from their pieces (WordPiece marks continuations with ``##``)."""
        return [
            "".join(self.tokens[p].removeprefix("##") for p in pieces)
            for pieces in self.word_pieces
        ]

    def word_attentions(self) -> np.ndarray:
        """Attention probabilities per word: ``(layers, heads, words, words)``."""
        return to_word_level(self.attentions, self.word_pieces)


def to_word_level(attention: np.ndarray, word_pieces: Sequence[Sequence[int]]) -> np.ndarray:
    """Turn piece-level attention ``(..., n, n)`` into word-level ``(..., words, words)``.

    Written as ``mean_rows @ attention @ sum_cols.T`` so it works for any leading
    dimensions: ``mean_rows`` averages the query pieces of a word and ``sum_cols`` adds up
    the key pieces, which keeps each row a probability distribution.
    """
    n = attention.shape[-1]
    mean_rows = np.zeros((len(word_pieces), n))
    sum_cols = np.zeros((len(word_pieces), n))
    for word, pieces in enumerate(word_pieces):
        mean_rows[word, list(pieces)] = 1.0 / len(pieces)
        sum_cols[word, list(pieces)] = 1.0
    return mean_rows @ attention @ sum_cols.T


def word_pieces(encoding: BatchEncoding, index: int, positions: Sequence[int]) -> list[list[int]]:
    """Group ``positions`` (the unpadded token positions) of example ``index`` into words.

    A word is identified by (segment, word id) from the fast tokenizer, because word ids
    restart at 0 in the second sentence of a pair; special tokens have no word id and each
    becomes a word of its own. Returned positions index into ``positions``.
    """
    word_ids = encoding.word_ids(index)
    sequence_ids = encoding.sequence_ids(index)

    def word_key(new_position: int) -> tuple[object, ...]:
        position = positions[new_position]
        if word_ids[position] is None:
            return ("special", position)
        return (sequence_ids[position], word_ids[position])

    return [list(group) for _, group in groupby(range(len(positions)), key=word_key)]


def extract(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    sentences: Sequence[str],
    pairs: Sequence[str] | None = None,
    max_length: int = 128,
    batch_size: int = 16,
) -> list[Example]:
    """Run ``model`` on ``sentences`` (optionally paired with ``pairs``) and split per example.

    Uses ``distill.attention.forward_with_scores`` so one forward pass yields probabilities,
    pre-softmax scores and hidden states; note that it switches the model's attention
    implementation to the score-recording one. The model is put in eval mode because
    dropout would make the attention maps random. Batches keep the padded per-layer
    tensors of BERT-base (two ``(batch, 12, 12, len, len)`` arrays) small.
    """
    if pairs is not None and len(pairs) != len(sentences):
        raise ValueError(f"{len(sentences)} sentences but {len(pairs)} pairs")
    examples = []
    for start in range(0, len(sentences), batch_size):
        stop = start + batch_size
        encoding = tokenizer(
            list(sentences[start:stop]),
            list(pairs[start:stop]) if pairs is not None else None,
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        examples += _extract_batch(model, encoding)
    return examples


def _extract_batch(model: PreTrainedModel, encoding: BatchEncoding) -> list[Example]:
    device = next(model.parameters()).device
    inputs = {name: tensor.to(device) for name, tensor in encoding.items()}
    model.eval()
    with torch.inference_mode():
        outputs, scores = forward_with_scores(
            model,
            inputs["input_ids"],
            inputs["attention_mask"],
            inputs.get("token_type_ids"),
            output_attentions=True,
        )
    attentions = torch.stack(outputs.attentions, dim=1).float().cpu().numpy()
    all_scores = torch.stack(scores, dim=1).float().cpu().numpy()
    hidden = torch.stack(outputs.hidden_states, dim=1).float().cpu().numpy()

    examples = []
    for index in range(len(encoding["input_ids"])):
        positions = encoding["attention_mask"][index].nonzero().flatten().tolist()
        grid = np.ix_(positions, positions)
        examples.append(
            Example(
                tokens=[encoding.tokens(index)[p] for p in positions],
                attentions=attentions[index][(..., *grid)],
                scores=all_scores[index][(..., *grid)],
                hidden_states=hidden[index][:, positions],
                word_pieces=word_pieces(encoding, index, positions),
            )
        )
    return examples
