"""Pre-softmax score capture through the AttentionInterface."""

import pytest
import torch
from tiny import make_tokenizer, tiny_config
from transformers import BertForSequenceClassification, BertModel

from distill.attention import SCORES_ATTENTION, _recorder, forward_with_scores


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return make_tokenizer(tmp_path_factory.mktemp("tok"))


def batch(tokenizer):
    texts = ["the cat is very fun", "a dog"]
    return tokenizer(texts, padding=True, return_tensors="pt")


def manual_scores(model: BertModel, inputs) -> list[torch.Tensor]:
    """QK^T / sqrt(d_k) per layer, from the layer inputs that output_hidden_states returns."""
    outputs = model(**inputs, output_hidden_states=True)
    scores = []
    for layer, hidden in zip(model.encoder.layer, outputs.hidden_states, strict=False):
        attention = layer.attention.self
        shape = (*hidden.shape[:2], -1, attention.attention_head_size)
        query = attention.query(hidden).view(shape).transpose(1, 2)
        key = attention.key(hidden).view(shape).transpose(1, 2)
        scores.append(query @ key.transpose(-1, -2) / attention.attention_head_size**0.5)
    return scores


def test_scores_equal_manual_qk_and_differ_from_probabilities(tokenizer):
    torch.manual_seed(0)
    model = BertModel(tiny_config(len(tokenizer), layers=2, heads=4)).eval()
    inputs = batch(tokenizer)
    model.set_attn_implementation("eager")
    expected = manual_scores(model, inputs)
    reference = model(**inputs, output_attentions=True)
    outputs, scores = forward_with_scores(model, **inputs)
    assert model.config._attn_implementation == SCORES_ATTENTION
    assert len(scores) == 2 and len(outputs.hidden_states) == 3
    for got, want, probs in zip(scores, expected, reference.attentions, strict=True):
        assert got.shape == (2, 4, inputs["input_ids"].shape[1], inputs["input_ids"].shape[1])
        torch.testing.assert_close(got, want)
        assert not torch.allclose(got, probs)
    # the wrapped computation leaves the model's outputs unchanged
    torch.testing.assert_close(outputs.last_hidden_state, reference.last_hidden_state)


def test_scores_exclude_padding_mask(tokenizer):
    """Raw scores at padded keys are ordinary numbers, not -inf/-1e4: the loss masks them."""
    torch.manual_seed(0)
    model = BertModel(tiny_config(len(tokenizer))).eval()
    inputs = batch(tokenizer)
    _, scores = forward_with_scores(model, **inputs)
    assert inputs["attention_mask"][1].min() == 0
    assert scores[0].abs().max() < 100


def test_gradients_flow_and_inference_mode_works(tokenizer):
    torch.manual_seed(0)
    model = BertForSequenceClassification(tiny_config(len(tokenizer)))
    inputs = batch(tokenizer)
    _, scores = forward_with_scores(model, **inputs)
    sum(s.sum() for s in scores).backward()
    assert model.bert.encoder.layer[0].attention.self.query.weight.grad is not None
    with torch.inference_mode():
        outputs, scores = forward_with_scores(model, **inputs)
    assert outputs.logits.shape == (2, 2) and not scores[0].requires_grad


def test_nothing_recorded_outside_forward_with_scores(tokenizer):
    torch.manual_seed(0)
    model = BertModel(tiny_config(len(tokenizer)))
    inputs = batch(tokenizer)
    forward_with_scores(model, **inputs)
    assert _recorder.get() is None
    model(**inputs)  # same implementation, plain call: must not fail or record
    _, scores = forward_with_scores(model, **inputs)
    assert len(scores) == 2


def test_probabilities_are_the_softmax_of_masked_scores(tokenizer):
    torch.manual_seed(0)
    model = BertModel(tiny_config(len(tokenizer))).eval()
    inputs = batch(tokenizer)
    outputs, scores = forward_with_scores(model, **inputs, output_attentions=True)
    padding = (1 - inputs["attention_mask"][:, None, None, :]) * torch.finfo(torch.float32).min
    for probs, raw in zip(outputs.attentions, scores, strict=True):
        torch.testing.assert_close(probs, torch.softmax(raw + padding, dim=-1))
