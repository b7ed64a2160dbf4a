"""Dropout whose keep mask is drawn from 32 random bits per element instead of ``bernoulli_``.

Why: on CPU, ``torch.nn.functional.dropout`` draws its mask with ``bernoulli_``, which was
the largest non-matmul op of a training step (11% of a task stage-1 step's CPU time, 7% of
a general-distillation one; ``benchmarks/results.md``). Filling an int64 tensor with raw
random words (``random_`` over the full 64-bit range, the same global Mersenne-Twister
generator, so ``torch.manual_seed`` fixes the bytes) and comparing each 32-bit half to a
threshold gives the same Bernoulli mask at about half the cost (forward and backward,
`benchmarks/ab_distill.py`).

The distribution: element ``i`` is dropped when its 32 uniform bits ``b_i`` (read as a
signed int32) are below ``round(p * 2**32) - 2**31``, so ``P(drop) = round(p * 2**32) / 2**32``
-- ``p`` quantised to a multiple of ``2**-32`` (for ``p = 0.1`` off by less than
``1e-10``). Distinct elements use
distinct bits, hence are independent; kept values are scaled by ``1 / (1 - p)`` exactly as
``F.dropout`` does on CPU (a float mask divided by ``1 - p``, times the input). In eval mode
the input is returned unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

BITS = 32


def drop_threshold(p: float) -> int:
    """The int32 value below which an element's random bits drop it (see module doc)."""
    return round(p * 2**BITS) - 2 ** (BITS - 1)


def keep_mask(shape: torch.Size | tuple[int, ...], p: float) -> torch.Tensor:
    """A bool tensor of ``shape``, each element kept (``True``) with probability ``1 - p``."""
    count = math.prod(shape)
    words = torch.empty((count + 1) // 2, dtype=torch.int64).random_(-(2**63), None)
    bits = words.view(torch.int32)[:count].view(shape)
    return bits >= drop_threshold(p)


def dropout(input: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout(input, p, training)`` with the mask from :func:`keep_mask` on CPU (other
    devices: ``F.dropout`` itself, whose fused kernels are fast there)."""
    if input.device.type != "cpu" or not 0 < p < 1:
        return F.dropout(input, p, training)  # also checks p and handles 0 and 1
    if not training:
        return input
    return input * keep_mask(input.shape, p).to(input.dtype).div_(1 - p)


class BitsDropout(nn.Dropout):
    """``nn.Dropout`` drawing its mask with :func:`keep_mask` (no parameters or buffers, so
    checkpoints are unchanged)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return dropout(input, self.p, self.training)


def use_bits_dropout(model: nn.Module) -> int:
    """Replace every ``nn.Dropout`` inside ``model`` by a :class:`BitsDropout` of the same
    ``p``; returns how many were replaced."""
    replaced = 0
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if type(child) is nn.Dropout and not child.inplace:
                setattr(parent, name, BitsDropout(child.p).train(child.training))
                replaced += 1
    return replaced
