"""Dropout is on at every training step: students and teachers loaded from a checkpoint
(``from_pretrained`` returns eval mode) must be switched to train mode, the frozen
teacher must stay in eval mode (issue: "w/o GD" trained with dropout, every other row
without)."""

from pathlib import Path

import pytest
from test_distill_cli import FAST, run, save_student, write_rte
from tiny import make_masked_lm
from transformers.models.bert import modeling_bert


@pytest.fixture
def modes(monkeypatch):
    """(hidden size, training?) of every BERT encoder forward pass, in order."""
    seen: list[tuple[int, bool]] = []
    forward = modeling_bert.BertModel.forward

    def recording(self, *args, **kwargs):
        seen.append((self.config.hidden_size, self.training))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(modeling_bert.BertModel, "forward", recording)
    return seen


def test_checkpoint_loaded_student_trains_with_dropout_and_teacher_stays_frozen(
    tmp_path: Path, modes
):
    data = write_rte(tmp_path / "glue")
    bert = make_masked_lm(tmp_path / "bert", layers=4, hidden=32, heads=4, intermediate=64)
    teacher = tmp_path / "teacher"
    run(
        f"finetune --task rte --data-dir {data} --model {bert} --output-dir {teacher} "
        f"--epochs 1 {FAST}"
    )
    finetune_steps = [training for hidden, training in modes if hidden == 32]
    # 4 training batches of 4, then the dev set (16 rows, evaluation batches of 64)
    assert finetune_steps[:4] == [True] * 4
    assert finetune_steps[4:] and not any(finetune_steps[4:])  # evaluation in eval mode
    modes.clear()

    student = save_student(tmp_path / "student")  # loaded with from_pretrained below
    run(
        f"task --task rte --data-dir {data} --teacher {teacher / 'best'} --student {student} "
        f"--output-dir {tmp_path / 'tiny'} --stage1-epochs 1 --stage2-epochs 1 {FAST}"
    )
    teacher_modes = {training for hidden, training in modes if hidden == 32}
    student_modes = [training for hidden, training in modes if hidden == 16]
    assert teacher_modes == {False}
    # stage 1: 4 steps; stage 2: 4 steps, then one dev evaluation (eval mode)
    assert student_modes[:8] == [True] * 8
    assert not any(student_modes[8:])
