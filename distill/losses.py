"""TinyBERT's distillation objectives (paper eqs. 7-11), one small function each.

Padding. With dynamic padding the number of padded positions changes from batch to
batch, so letting them into a mean would make the loss depend on batching. Two modes:

* ``"masked"`` (default): average only over valid positions -- tokens for hidden states,
  (query, key) pairs where both are real tokens for attention scores.
* ``"official"``: the released TinyBERT code. Its scores already contain the additive
  ``-10000`` padding mask, and it zeroes every score ``<= -100`` in student and teacher
  before a plain MSE over the whole tensor. Padded *keys* therefore count as zero-error
  positions (diluting the mean) and padded *queries* still contribute. Hidden states use
  a plain MSE over all positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

PADDING_MODES = ("masked", "official")
OFFICIAL_MASK_VALUE = -10000.0
OFFICIAL_THRESHOLD = -100.0


def masked_mse(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the positions where ``mask`` (broadcastable) is true.

    The masked positions are zeroed on both sides, with the mask broadcast rather than
    expanded, and summed by one fused ``mse_loss``: the same values bit for bit as
    ``((s - t) ** 2 * mask).sum() / mask.sum()``, in less time (``benchmarks/ab_distill.py``).
    The count of valid positions is the mask's sum times the size of the dimensions it is
    broadcast over.
    """
    mask = mask.to(student.dtype)
    count = mask.sum() * (student.numel() // mask.numel())
    zeroed = F.mse_loss(student * mask, teacher.to(student.dtype) * mask, reduction="sum")
    return zeroed / count.clamp(min=1)


def hidden_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``MSE(H^S W_h, H^T)`` (eq. 8); ``student`` must already be projected.

    With an ``attention_mask`` (batch, len) only real tokens count (``"masked"`` mode);
    without one it is the plain MSE of the official code. The embedding loss (eq. 9) is
    the same function applied to the embedding outputs projected by ``W_e``.
    """
    if attention_mask is None:
        return F.mse_loss(student, teacher.to(student.dtype))
    return masked_mse(student, teacher, attention_mask[:, :, None].bool())


embedding_loss = hidden_loss


def attention_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    attention_mask: torch.Tensor,
    padding: str = "masked",
) -> torch.Tensor:
    """Eq. 7: mean over heads of the per-head MSE between raw attention scores.

    ``student``/``teacher`` are (batch, heads, len, len) pre-softmax scores without the
    padding mask (as ``forward_with_scores`` returns them). Every head has the same set
    of valid positions, so the mean of per-head MSEs equals the MSE over all heads.
    """
    if padding == "masked":
        valid = attention_mask.to(student.dtype)
        return masked_mse(student, teacher, valid[:, None, :, None] * valid[:, None, None, :])
    if padding == "official":
        key_pad = (1.0 - attention_mask[:, None, None, :].to(student.dtype)) * OFFICIAL_MASK_VALUE

        def zeroed(scores: torch.Tensor) -> torch.Tensor:
            masked = scores.to(student.dtype) + key_pad
            return torch.where(masked <= OFFICIAL_THRESHOLD, torch.zeros_like(masked), masked)

        return F.mse_loss(zeroed(student), zeroed(teacher))
    raise ValueError(f"unknown padding mode {padding!r}; use one of {PADDING_MODES}")


def prediction_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Eq. 10: soft cross-entropy ``-softmax(z^T / t) . log_softmax(z^S / t)``, batch mean.

    A single output column means regression (STS-B); there the teacher's prediction is
    matched with MSE since a softmax over one value is meaningless.
    """
    teacher_logits = teacher_logits.to(student_logits.dtype)
    if student_logits.size(-1) == 1:
        return F.mse_loss(student_logits, teacher_logits)
    targets = F.softmax(teacher_logits / temperature, dim=-1)
    return -(targets * F.log_softmax(student_logits / temperature, dim=-1)).sum(-1).mean()


def weighted_sum(
    losses: Sequence[torch.Tensor], weights: Sequence[float] | None = None
) -> torch.Tensor:
    """Eq. 11: ``sum_m lambda_m L_layer(S_m, T_g(m))``; ``lambda_m`` defaults to 1."""
    if weights is None:
        weights = [1.0] * len(losses)
    if len(weights) != len(losses):
        raise ValueError(f"{len(weights)} layer weights given for {len(losses)} layer losses")
    return sum(w * loss for w, loss in zip(weights, losses, strict=True))
