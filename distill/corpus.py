"""General-distillation text: one sentence a line, a blank line between documents.

Consecutive sentences of a document are packed into sequences of up to ``max_length``
pieces (``[CLS] ... [SEP]``), as BERT pre-training data is, so that the student sees
full-length contexts instead of mostly-padding single sentences. A sentence longer than
a whole sequence is truncated; packing never crosses a document boundary.
"""

from __future__ import annotations

from pathlib import Path

from transformers import PreTrainedTokenizerBase

from augment.documents import read_documents


def pack_corpus(
    path: str | Path,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = 128,
    max_lines: int | None = None,
) -> list[dict]:
    """Tokenise and pack the corpus into features ready for ``DataCollatorWithPadding``.

    Features carry their ``index`` so that cached teacher outputs can be looked up.
    """
    budget = max_length - 2
    features = []
    for document in read_documents(path, max_lines):
        pieces = tokenizer(document, add_special_tokens=False)["input_ids"]
        current: list[int] = []
        for sentence in pieces:
            if current and len(current) + len(sentence) > budget:
                features.append(_feature(tokenizer, current))
                current = []
            current += sentence[:budget]
        if current:
            features.append(_feature(tokenizer, current))
    return [{**feature, "index": i} for i, feature in enumerate(features)]


def _feature(tokenizer: PreTrainedTokenizerBase, ids: list[int]) -> dict[str, list[int]]:
    input_ids = [tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]
    return {
        "input_ids": input_ids,
        "token_type_ids": [0] * len(input_ids),
        "attention_mask": [1] * len(input_ids),
    }
