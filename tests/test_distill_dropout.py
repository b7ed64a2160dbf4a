"""The bit-threshold dropout draws the same distribution as ``F.dropout``: Bernoulli(1 - p)
keep masks, independent per element and per call, kept values scaled by 1 / (1 - p), the
identity in eval mode, and the same bytes for the same seed."""

import math

import pytest
import torch
import torch.nn.functional as F
from tiny import make_masked_lm
from torch import nn
from transformers import AutoModel

from distill.dropout import BitsDropout, drop_threshold, dropout, keep_mask, use_bits_dropout

SIGMAS = 5  # a check fails by chance with probability below 1e-6


def within(observed: float, expected: float, count: int) -> bool:
    """``observed`` is a mean of ``count`` Bernoulli(``expected``) draws, up to SIGMAS."""
    return abs(observed - expected) <= SIGMAS * math.sqrt(expected * (1 - expected) / count)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_rate_is_one_minus_p(p):
    torch.manual_seed(0)
    mask = keep_mask((1000, 1001), p)  # odd count: the last 64-bit word is half used
    assert mask.dtype == torch.bool and mask.shape == (1000, 1001)
    assert within(mask.float().mean().item(), 1 - p, mask.numel())


def test_threshold_quantises_p_to_two_to_the_minus_32():
    for p in (0.1, 0.25, 1 / 3):
        dropped_values = drop_threshold(p) - (-(2**31))  # int32 values below the threshold
        assert dropped_values == round(p * 2**32)
        assert abs(dropped_values / 2**32 - p) <= 2**-33
    assert drop_threshold(0.5) == 0


def test_elements_and_calls_are_independent():
    p, count = 0.1, 1_000_000
    torch.manual_seed(1)
    first, second = keep_mask((count,), p).float(), keep_mask((count,), p).float()
    both = (1 - p) ** 2
    # neighbours share a 64-bit random word; elements far apart do not
    assert within((first[0::2] * first[1::2]).mean().item(), both, count // 2)
    assert within((first[:-7] * first[7:]).mean().item(), both, count - 7)
    assert within((first * second).mean().item(), both, count)  # across calls (steps)


def test_scaling_gradient_and_expected_value_match_f_dropout():
    p = 0.1
    x = (torch.rand(64, 12, 40, 40) + 0.5).requires_grad_()  # no zeros: out / x below
    torch.manual_seed(2)
    out = dropout(x, p, training=True)
    torch.manual_seed(2)
    mask = keep_mask(x.shape, p)
    # F.dropout's CPU arithmetic: a float mask divided by (1 - p), times the input
    assert torch.equal(out, x * mask.float().div_(1 - p))
    assert torch.equal(out == 0, ~mask)
    out.sum().backward()
    assert torch.equal(x.grad, mask.float().div_(1 - p))
    # E[out] = x: the mean of out / x over many elements is 1 (F.dropout's variance)
    ratio = (out / x).detach()
    spread = math.sqrt(p / (1 - p) / ratio.numel())
    assert abs(ratio.mean().item() - 1) <= SIGMAS * spread
    reference = F.dropout(x.detach(), p, training=True)  # same law: same share of zeros
    assert within((reference == 0).float().mean().item(), p, x.numel())


def test_eval_mode_and_extreme_p_are_f_dropout():
    x = torch.randn(8, 16)
    assert dropout(x, 0.1, training=False) is x
    assert torch.equal(dropout(x, 0.0, training=True), x)
    assert torch.equal(dropout(x, 1.0, training=True), torch.zeros_like(x))
    with pytest.raises(ValueError):
        dropout(x, 1.5, training=True)
    module = BitsDropout(0.1).eval()
    assert module(x) is x


def test_same_seed_same_bytes():
    x = torch.randn(32, 12, 37, 37)
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        outputs.append([dropout(x, 0.1, training=True) for _ in range(3)])
    for a, b in zip(*outputs, strict=True):
        assert a.numpy().tobytes() == b.numpy().tobytes()
    assert not torch.equal(outputs[0][0], outputs[0][1])  # a fresh mask at every call


def test_use_bits_dropout_replaces_every_bert_dropout_and_keeps_weights(tmp_path):
    model = AutoModel.from_pretrained(make_masked_lm(tmp_path / "bert"))
    plain = sum(type(m) is nn.Dropout for m in model.modules())
    keys = model.state_dict().keys()
    x = torch.randint(5, model.config.vocab_size, (4, 12))
    model.eval()
    with torch.no_grad():
        before = model(input_ids=x).last_hidden_state
    assert use_bits_dropout(model) == plain > 0
    assert not any(type(m) is nn.Dropout for m in model.modules())
    assert model.state_dict().keys() == keys
    with torch.no_grad():
        assert torch.equal(model(input_ids=x).last_hidden_state, before)  # eval: identity
        model.train()
        assert not torch.equal(model(input_ids=x).last_hidden_state, before)
