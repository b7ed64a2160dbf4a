"""Batched masked-LM candidates for single-piece words.

The official script runs one forward pass per word with batch size 1, autograd on, and
computes logits for every position. Here every masked copy of every sentence in a chunk
is one *request*; requests are deduplicated, sorted by length and padded per batch (so
little compute goes to padding), run under ``torch.inference_mode``, and only the hidden
state at the [MASK] goes through the vocabulary projection.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel
from transformers import PreTrainedTokenizerBase as Tokenizer

from augment.words import is_content_word

_UNUSED = re.compile(r"\[unused\d+\]")


@dataclass(frozen=True)
class MaskRequest:
    """One masked copy of a sentence: its input ids, segment ids and [MASK] position."""

    input_ids: tuple[int, ...]
    token_type_ids: tuple[int, ...]
    mask_position: int


def build_request(
    pieces: list[list[int]], word_index: int, tokenizer: Tokenizer, paired: bool, max_length: int
) -> MaskRequest:
    """Mask word ``word_index`` (a single piece) of a sentence given as per-word piece ids.

    ``paired`` feeds ``[CLS] masked [SEP] original [SEP]`` as the official script does, so
    the model sees the original word in the second segment; the second segment is cut to
    fit ``max_length``. Otherwise the input is ``[CLS] masked [SEP]``.
    """
    flat = [piece for word in pieces for piece in word]
    position = 1 + sum(len(word) for word in pieces[:word_index])
    masked = list(flat)
    masked[position - 1] = tokenizer.mask_token_id
    first = [tokenizer.cls_token_id, *masked, tokenizer.sep_token_id]
    second = [*flat, tokenizer.sep_token_id][: max(0, max_length - len(first))] if paired else []
    return MaskRequest(tuple(first + second), (0,) * len(first) + (1,) * len(second), position)


def _prediction_head(model: PreTrainedModel) -> torch.nn.Module | None:
    """The module mapping hidden states to vocabulary logits, if the model exposes one."""
    for name in ("cls", "lm_head"):
        head = getattr(model, name, None)
        if isinstance(head, torch.nn.Module):
            return head
    return None


class MaskedLMCandidates:
    """Top-K masked-LM predictions for many masked copies at once.

    ``clean`` drops special and ``[unused]`` tokens, stop words, tokens that are not ASCII
    letters (punctuation, numbers, brackets) and the masked word itself, and keeps the K
    best that remain; otherwise (``faithful``) the K most
    probable tokens are taken and only ``##`` continuation pieces dropped, as the official
    script does.
    """

    def __init__(
        self, model: PreTrainedModel, tokenizer: Tokenizer, k: int, clean: bool, batch_size: int
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.k = k
        self.clean = clean
        self.batch_size = batch_size
        self.head = _prediction_head(model)
        self.uses_segments = getattr(model.config, "type_vocab_size", 0) >= 2
        self.vocabulary = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self.device = next(model.parameters()).device
        excluded = set(tokenizer.all_special_ids)
        excluded.update(i for i, token in enumerate(self.vocabulary) if _UNUSED.fullmatch(token))
        self.excluded_ids = excluded

    @torch.inference_mode()
    def _top_ids(
        self, requests: list[MaskRequest], on_progress: Callable[[int, int], None] | None
    ) -> list[list[int]]:
        depth = min(self.k + 64 if self.clean else self.k, len(self.vocabulary))
        order = sorted(range(len(requests)), key=lambda i: len(requests[i].input_ids))
        top: list[list[int]] = [[] for _ in requests]
        for start in range(0, len(order), self.batch_size):
            batch = [requests[i] for i in order[start : start + self.batch_size]]
            length = max(len(r.input_ids) for r in batch)
            ids = torch.full((len(batch), length), self.tokenizer.pad_token_id)
            types = torch.zeros((len(batch), length), dtype=torch.long)
            mask = torch.zeros((len(batch), length), dtype=torch.long)
            for row, request in enumerate(batch):
                ids[row, : len(request.input_ids)] = torch.tensor(request.input_ids)
                types[row, : len(request.token_type_ids)] = torch.tensor(request.token_type_ids)
                mask[row, : len(request.input_ids)] = 1
            inputs = {"input_ids": ids, "attention_mask": mask}
            if self.uses_segments:
                inputs["token_type_ids"] = types
            inputs = {name: tensor.to(self.device) for name, tensor in inputs.items()}
            rows = torch.arange(len(batch), device=self.device)
            positions = torch.tensor([r.mask_position for r in batch], device=self.device)
            if self.head is None:
                logits = self.model(**inputs).logits[rows, positions]
            else:
                hidden = self.model.base_model(**inputs).last_hidden_state
                logits = self.head(hidden[rows, positions])
            best = logits.float().topk(depth, dim=-1).indices.tolist()
            for index, ids_row in zip(order[start : start + self.batch_size], best, strict=True):
                top[index] = ids_row
            if on_progress is not None:
                on_progress(start + len(batch), len(requests))
        return top

    def _keep(self, token_id: int, word: str) -> bool:
        token = self.vocabulary[token_id]
        if token.startswith("##"):
            return False
        if not self.clean:
            return True
        return (
            token_id not in self.excluded_ids
            and is_content_word(token.lower())
            and token.lower() != word
        )

    def candidates(
        self,
        requests: list[MaskRequest],
        words: list[str],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[list[str]]:
        """Candidate words for each request; ``words`` are the masked words (normalised).
        ``on_progress(done, total)`` follows the forward passes over the unique requests."""
        unique = list(dict.fromkeys(requests))
        top = dict(zip(unique, self._top_ids(unique, on_progress), strict=True))
        return [
            [self.vocabulary[i] for i in top[request] if self._keep(i, word)][: self.k]
            for request, word in zip(requests, words, strict=True)
        ]
