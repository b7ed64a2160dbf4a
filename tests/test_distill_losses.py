"""Distillation losses against values worked out by hand."""

import math

import pytest
import torch

from distill.losses import (
    attention_loss,
    embedding_loss,
    hidden_loss,
    prediction_loss,
    weighted_sum,
)


def test_hidden_loss_plain_mse():
    student = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    teacher = torch.tensor([[[0.0, 2.0], [3.0, 2.0]]])
    # squared errors 1, 0, 0, 4 -> mean 5 / 4
    assert hidden_loss(student, teacher).item() == pytest.approx(1.25)
    assert embedding_loss is hidden_loss


def test_hidden_loss_masks_padded_tokens():
    student = torch.tensor([[[1.0, 2.0], [30.0, 40.0]]])
    teacher = torch.tensor([[[0.0, 2.0], [0.0, 0.0]]])
    mask = torch.tensor([[1, 0]])
    # only the first token counts: errors 1, 0 -> mean 0.5
    assert hidden_loss(student, teacher, mask).item() == pytest.approx(0.5)


def test_attention_loss_is_mean_of_per_head_mse():
    student = torch.zeros(1, 2, 2, 2)
    teacher = torch.zeros(1, 2, 2, 2)
    teacher[0, 0] = torch.tensor([[1.0, 1.0], [1.0, 1.0]])  # head 0 MSE 1
    teacher[0, 1] = torch.tensor([[3.0, 0.0], [0.0, 0.0]])  # head 1 MSE 9/4
    mask = torch.ones(1, 2)
    expected = (1.0 + 9 / 4) / 2
    assert attention_loss(student, teacher, mask).item() == pytest.approx(expected)
    assert attention_loss(student, teacher, mask, "official").item() == pytest.approx(expected)


def test_attention_loss_padding_modes():
    # one head, length 2, second token padded
    student = torch.tensor([[[[1.0, 5.0], [7.0, 9.0]]]])
    teacher = torch.tensor([[[[0.0, 0.0], [4.0, 0.0]]]])
    mask = torch.tensor([[1, 0]])
    # masked: only (query 0, key 0) counts -> (1 - 0)^2
    assert attention_loss(student, teacher, mask, "masked").item() == pytest.approx(1.0)
    # official: padded key column zeroed on both sides, padded query row kept,
    # mean over all 4 entries -> (1 + 0 + (7 - 4)^2 + 0) / 4
    assert attention_loss(student, teacher, mask, "official").item() == pytest.approx(2.5)


def test_attention_loss_official_zeroes_very_negative_scores():
    student = torch.tensor([[[[-200.0, 1.0], [0.0, 0.0]]]])
    teacher = torch.zeros(1, 1, 2, 2)
    mask = torch.ones(1, 2)
    # the -200 score is zeroed as in the released code; the masked mode keeps it
    assert attention_loss(student, teacher, mask, "official").item() == pytest.approx(0.25)
    assert attention_loss(student, teacher, mask, "masked").item() == pytest.approx(10000.25)


def test_attention_loss_rejects_unknown_mode():
    with pytest.raises(ValueError, match="padding mode"):
        attention_loss(torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1), torch.ones(1, 1), "x")


def test_prediction_loss_soft_cross_entropy():
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[0.0, math.log(3.0)]])  # softmax -> (1/4, 3/4)
    # -(1/4 log 1/2 + 3/4 log 1/2) = log 2
    assert prediction_loss(student, teacher).item() == pytest.approx(math.log(2))
    # temperature 2: teacher (1, sqrt 3)/(1 + sqrt 3), student still uniform -> log 2
    assert prediction_loss(student, teacher, 2.0).item() == pytest.approx(math.log(2))
    student = torch.tensor([[math.log(3.0), 0.0]])  # student softmax (3/4, 1/4)
    expected = -(0.25 * math.log(0.75) + 0.75 * math.log(0.25))
    assert prediction_loss(student, teacher).item() == pytest.approx(expected)


def test_prediction_loss_regression_is_mse():
    assert prediction_loss(torch.tensor([[1.0], [2.0]]), torch.tensor([[0.0], [4.0]])).item() == (
        pytest.approx(2.5)
    )


def test_weighted_sum_equation_11():
    losses = [torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)]
    assert weighted_sum(losses).item() == pytest.approx(6.0)
    assert weighted_sum(losses, [1.0, 0.5, 2.0]).item() == pytest.approx(8.0)
    with pytest.raises(ValueError, match="layer weights"):
        weighted_sum(losses, [1.0])


def expanded_mask_mse(student, teacher, mask):
    """The masked MSE as first written (mask expanded to the full shape): the reference
    the faster broadcast version must equal bit for bit."""
    mask = mask.to(student.dtype).expand_as(student)
    return ((student - teacher) ** 2 * mask).sum() / mask.sum().clamp(min=1)


@pytest.mark.parametrize("kind", ["attention", "hidden"])
def test_broadcast_masked_mse_equals_the_expanded_one_bit_for_bit(kind):
    generator = torch.Generator().manual_seed(0)
    attention_mask = torch.ones(6, 23, dtype=torch.long)
    for row, length in enumerate([23, 20, 17, 9, 3, 1]):
        attention_mask[row, length:] = 0
    shape = (6, 12, 23, 23) if kind == "attention" else (6, 23, 48)
    student = torch.randn(shape, generator=generator, requires_grad=True)
    teacher = torch.randn(shape, generator=generator)
    valid = attention_mask.bool()
    if kind == "attention":
        ours = attention_loss(student, teacher, attention_mask)
        reference = expanded_mask_mse(
            student, teacher, valid[:, None, :, None] & valid[:, None, None, :]
        )
    else:
        ours = hidden_loss(student, teacher, attention_mask)
        reference = expanded_mask_mse(student, teacher, valid[:, :, None])
    (ours_grad,) = torch.autograd.grad(ours, student)
    (reference_grad,) = torch.autograd.grad(reference, student)
    assert torch.equal(ours, reference)
    assert torch.equal(ours_grad, reference_grad)
