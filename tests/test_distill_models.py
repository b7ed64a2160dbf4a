"""Student presets, projections and the head-count check."""

import pytest
import torch
from tiny import tiny_config
from transformers import BertForSequenceClassification

from distill.distiller import IntermediateDistiller
from distill.losses import hidden_loss
from distill.models import Projections, check_heads, new_student, student_config


def test_presets_follow_the_paper_and_share_the_teacher_vocabulary():
    teacher = tiny_config(vocab_size=90, max_positions=64)
    config = student_config("tinybert4", teacher)
    sizes = (config.num_hidden_layers, config.hidden_size, config.intermediate_size)
    assert sizes == (4, 312, 1200) and config.num_attention_heads == 12
    assert (config.vocab_size, config.max_position_embeddings) == (90, 64)
    six = student_config("tinybert6", teacher)
    assert (six.num_hidden_layers, six.hidden_size, six.intermediate_size) == (6, 768, 3072)
    with pytest.raises(ValueError, match="unknown student preset"):
        student_config("tinybert5", teacher)


def test_new_student_is_a_standard_hf_model():
    student = new_student("cpu", tiny_config(vocab_size=90), with_head=True, num_labels=3)
    assert isinstance(student, BertForSequenceClassification)
    assert student.config.num_labels == 3


def test_projection_modes():
    """Paper eqs. 8-9: one W_e for the embeddings, one W_h shared by every layer (default);
    per-layer maps; the released code's single fit_dense for everything."""
    paper = Projections(16, 32, layers=3)
    per_layer = Projections(16, 32, layers=3, mode="per-layer")
    released = Projections(16, 32, layers=3, mode="released")
    assert (len(paper.maps), len(per_layer.maps), len(released.maps)) == (2, 4, 1)
    hidden = torch.randn(2, 5, 16)
    assert per_layer(3, hidden).shape == (2, 5, 32)
    torch.testing.assert_close(released(0, hidden), released(3, hidden))
    torch.testing.assert_close(paper(1, hidden), paper(3, hidden))
    assert not torch.allclose(paper(0, hidden), paper(1, hidden))
    assert not torch.allclose(per_layer(1, hidden), per_layer(3, hidden))
    with pytest.raises(ValueError, match="projection mode"):
        Projections(16, 32, layers=3, mode="shared")


def test_projections_round_trip_only_when_they_fit(tmp_path):
    saved = Projections(16, 32, layers=3)
    saved.save(tmp_path)
    loaded = Projections(16, 32, layers=3)
    assert loaded.load_from(tmp_path)
    for key, value in saved.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)
    other = Projections(16, 32, layers=3, mode="per-layer")
    before = {k: v.clone() for k, v in other.state_dict().items()}
    assert not other.load_from(tmp_path) and not Projections(16, 64, layers=3).load_from(tmp_path)
    assert all(torch.equal(before[k], v) for k, v in other.state_dict().items())
    assert not Projections(16, 32, layers=3).load_from(tmp_path / "absent")


def test_head_check():
    check_heads(tiny_config(90, heads=4), tiny_config(90, hidden=64, heads=4))
    with pytest.raises(ValueError, match="equal head counts"):
        check_heads(tiny_config(90, heads=2), tiny_config(90, heads=4))


def test_distiller_checks_heads_only_with_attention_loss():
    teacher = BertForSequenceClassification(tiny_config(90, layers=4, heads=4))
    student = BertForSequenceClassification(tiny_config(90, layers=2, heads=2))
    with pytest.raises(ValueError, match="equal head counts"):
        IntermediateDistiller(student, teacher, [0, 2, 4])
    IntermediateDistiller(student, teacher, [0, 2, 4], objectives={"embd", "hidn"})
    with pytest.raises(ValueError, match="needs 3 entries"):
        IntermediateDistiller(student, teacher, [0, 4], objectives={"hidn"})
    with pytest.raises(ValueError, match="non-empty subset"):
        IntermediateDistiller(student, teacher, [0, 2, 4], objectives={"pred"})


def test_distiller_losses_are_zero_for_a_copy_of_the_teacher():
    """Student == teacher and identity projections: every intermediate loss vanishes."""
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(tiny_config(90, layers=2, heads=4)).eval()
    student = BertForSequenceClassification(tiny_config(90, layers=2, heads=4)).eval()
    student.load_state_dict(teacher.state_dict())
    distiller = IntermediateDistiller(student, teacher, [0, 1, 2])
    for linear in distiller.projections.maps:
        torch.nn.init.eye_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
    batch = {
        "input_ids": torch.tensor([[2, 10, 11, 3, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1, 0]]),
    }
    losses = distiller(batch, *distiller.teacher_targets(teacher, batch))
    assert {k: round(v.item(), 6) for k, v in losses.items()} == {
        "loss": 0.0,
        "embd": 0.0,
        "attn": 0.0,
        "hidn": 0.0,
    }


def test_embedding_only_distillation_runs_no_layer_and_equals_the_full_forward():
    """ "w/o Trm" distils the embeddings alone: no encoder layer of either model runs, and
    the loss and its gradients are those a full forward gives."""
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(tiny_config(90, layers=4, heads=4)).eval()
    student = BertForSequenceClassification(tiny_config(90, layers=2, hidden=16)).eval()
    distiller = IntermediateDistiller(student, teacher, [0, 2, 4], objectives={"embd"})
    batch = {
        "input_ids": torch.tensor([[2, 10, 11, 3, 0], [2, 12, 3, 0, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]),
        "token_type_ids": torch.zeros(2, 5, dtype=torch.long),
    }
    layers_run = []
    for model in (teacher, student):
        model.bert.encoder.register_forward_hook(lambda *_: layers_run.append(1))
    loss = distiller(batch, *distiller.teacher_targets(teacher, batch))["loss"]
    assert not layers_run
    loss.backward()
    fast_grads = [p.grad.clone() for p in student.bert.embeddings.parameters()]
    student.zero_grad()
    with torch.no_grad():
        teacher_embeddings = teacher(**batch, output_hidden_states=True).hidden_states[0]
    full = student(**batch, output_hidden_states=True).hidden_states[0]
    mask = batch["attention_mask"]
    reference = hidden_loss(distiller.projections(0, full), teacher_embeddings, mask)
    reference.backward()
    assert torch.equal(loss, reference)
    for fast, slow in zip(fast_grads, student.bert.embeddings.parameters(), strict=True):
        assert torch.equal(fast, slow.grad)
