"""Capture TinyBERT's attention targets: the *pre-softmax* scores ``A = Q K^T / sqrt(d_k)``.

TinyBERT (eq. 3) matches the unnormalised attention matrices, not the softmax
probabilities that ``output_attentions=True`` returns: the paper reports that the raw
scores converge faster and distil better. Transformers has no output for them, so we
register an attention function through ``transformers.AttentionInterface`` (the library's
supported extension point, the same one used for sdpa/flash kernels) that computes eager
attention and hands the raw scores -- before the padding mask is added -- to a recorder.

The recorder is a ``ContextVar`` so that the function stays stateless: outside
``forward_with_scores`` it behaves exactly like eager attention and records nothing.
"""

from __future__ import annotations

from contextvars import ContextVar

import torch
from torch import nn
from transformers import AttentionInterface, PreTrainedModel
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask
from transformers.utils import ModelOutput

from distill import dropout as bits_dropout

SCORES_ATTENTION = "tinybert_scores"

_recorder: ContextVar[list[torch.Tensor] | None] = ContextVar("tinybert_scores", default=None)


def scores_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: object,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eager scaled dot-product attention that also records ``Q K^T * scaling`` per head.

    Computing the scores once and reusing them for the softmax keeps the cost of
    recording at zero extra matmuls (the teacher forward dominates distillation time).
    """
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    recorded = _recorder.get()
    if recorded is not None:
        recorded.append(scores)
    if attention_mask is not None:
        scores = scores + attention_mask
    probs = nn.functional.softmax(scores, dim=-1)
    probs = bits_dropout.dropout(probs, dropout, module.training)  # F.dropout, cheaper mask
    output = torch.matmul(probs, value).transpose(1, 2).contiguous()
    return output, probs


AttentionInterface.register(SCORES_ATTENTION, scores_attention_forward)
# Our function adds the mask to the scores exactly as eager attention does, so it needs
# the same additive float mask; without this registration transformers passes no mask.
ALL_MASK_ATTENTION_FUNCTIONS.register(SCORES_ATTENTION, eager_mask)


def use_score_attention(model: PreTrainedModel) -> None:
    """Switch ``model`` to the score-recording attention (a no-op when already switched)."""
    if model.config._attn_implementation != SCORES_ATTENTION:
        model.set_attn_implementation(SCORES_ATTENTION)


def forward_with_scores(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    token_type_ids: torch.Tensor | None = None,
    **kw: object,
) -> tuple[ModelOutput, tuple[torch.Tensor, ...]]:
    """Run ``model`` and return its outputs plus one raw score tensor per layer.

    Outputs carry ``hidden_states`` (embeddings first, then each layer). Each score tensor
    has shape ``(batch, heads, len, len)`` and does *not* include the padding mask; use
    ``distill.losses.attention_loss`` to exclude padded positions. Works under
    ``torch.inference_mode`` (teacher) and with autograd (student). ``model`` may be
    wrapped (DDP); the attention implementation is switched on the unwrapped model.
    """
    inner = model.module if hasattr(model, "module") else model
    use_score_attention(inner)
    recorded: list[torch.Tensor] = []
    token = _recorder.set(recorded)
    try:
        outputs = model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            output_hidden_states=True,
            **kw,
        )
    finally:
        _recorder.reset(token)
    return outputs, tuple(recorded)
