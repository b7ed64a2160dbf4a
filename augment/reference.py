"""The official TinyBERT augmentation loop, kept as an oracle for tests and the benchmark.

This follows ``data_augmentation.py`` of the TinyBERT release step by step: for each
eligible word it tokenizes the whole sentence, finds the word's pieces by counting
non-``##`` pieces, and runs the masked LM with batch size 1, autograd on, computing
logits at every position; GloVe neighbours come from a full sort of all similarities.
It is slow by design: :mod:`augment.benchmark` measures our batched implementation
against it and checks that both give the same candidate sets.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import PreTrainedModel
from transformers import PreTrainedTokenizerBase as Tokenizer

from augment.words import is_eligible, split_words


class ReferenceAugmenter:
    """Candidates for one sentence at a time, exactly as the official script computes them."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: Tokenizer,
        glove_words: list[str],
        glove_unit_vectors: np.ndarray,
        k: int,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.glove_index = {word: row for row, word in enumerate(glove_words)}
        self.glove_words = glove_words
        self.glove = glove_unit_vectors
        self.k = k

    def _word_distance(self, word: str) -> list[str]:
        if word not in self.glove_index:
            return []
        row = self.glove_index[word]
        distance = self.glove @ self.glove[row]
        distance[row] = -np.inf
        return [self.glove_words[i] for i in np.argsort(-distance)[: self.k]]

    def _masked_language_model(
        self, sentence: str, word_pieces: list[str], mask_id: int
    ) -> list[str]:
        tokenized = ["[CLS]", *self.tokenizer.tokenize(sentence)]
        tokenized_len = len(tokenized)
        tokens = word_pieces + ["[SEP]"] + tokenized[1:] + ["[SEP]"]
        limit = self.model.config.max_position_embeddings
        tokens = tokens[:limit]
        ids = torch.tensor([self.tokenizer.convert_tokens_to_ids(tokens)])
        segments = torch.tensor(
            [[0] * (tokenized_len + 1) + [1] * (len(tokens) - tokenized_len - 1)]
        )
        predictions = self.model(input_ids=ids, token_type_ids=segments).logits
        best = torch.argsort(predictions[0, mask_id], descending=True)[: self.k].tolist()
        return [token for token in self.tokenizer.convert_ids_to_tokens(best) if token.find("##")]

    def _word_augment(self, sentence: str, word_index: int, word: str) -> list[str]:
        word_pieces = ["[CLS]", *self.tokenizer.tokenize(sentence)]
        token_index, piece_ids = -1, []
        for i in range(1, len(word_pieces)):
            if "##" not in word_pieces[i]:
                token_index += 1
                if token_index < word_index:
                    piece_ids = []
                elif token_index == word_index:
                    piece_ids = [i]
                else:
                    break
            else:
                piece_ids.append(i)
        if len(piece_ids) == 1:
            word_pieces[piece_ids[0]] = "[MASK]"
            candidates = self._masked_language_model(sentence, word_pieces, piece_ids[0])
        else:
            candidates = self._word_distance(word)
        return candidates or [word]

    def candidates(self, sentence: str) -> dict[int, list[str]]:
        """Candidates of every eligible word of ``sentence``, keyed by word index."""
        return {
            index: self._word_augment(sentence, index, word.normalized)
            for index, word in enumerate(split_words(sentence))
            if is_eligible(word)
        }
