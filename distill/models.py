"""Teachers, student presets and the learnable projections ``W_e`` / ``W_h``.

Students are plain Hugging Face BERT models so that a distilled checkpoint loads with
``AutoModel`` / ``AutoModelForSequenceClassification`` like any other. The projections
that lift the student's hidden size to the teacher's exist only for training: they live
in ``Projections``, are optimised with the student, kept in training checkpoints for
resuming, and never written into the student's own weights. General distillation saves
them beside the student (``PROJECTIONS_FILE``) so that task distillation starts from the
learnt maps, as the released TinyBERT checkpoints carry their ``fit_dense``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
)

from distill.errors import DistillError, MissingInput

# Paper sizes: TinyBERT4 (Sec. 4.1) and TinyBERT6 (same shape as BERT-base, half the depth).
# ``cpu`` is sized for CPU runs against the 6-layer, 384-wide, 12-head MiniLM teacher in
# ``../shared/assets/models``: 3 layers so that the uniform mapping 2,4,6 divides the
# teacher evenly (4 layers would not), 12 heads so that the attention loss applies head by
# head, hidden 192 (head size 16) and FFN 4x. Measured on 2 CPU cores shared with other
# jobs (load ~4, so figures vary run to run), batch 32, length 64, one whole stage-1 step
# (teacher forward, student forward/backward, AdamW), examples/s: two interleaved 5-step
# runs gave this preset 12.9 and 9.9 against 7.4 and 5.7 for a TinyBERT4-wide 3/312/1200
# student (one noisier 3-step run had them the other way round, 5.2 vs 7.4); the paper
# pair BERT-base -> TinyBERT4 gave 1.8-3.8. The MiniLM forward alone runs at about 17/s,
# so a smaller student would buy little. See ``benchmarks/bench_distill_speed.py``.
STUDENT_PRESETS: dict[str, dict[str, int]] = {
    "tinybert4": {
        "num_hidden_layers": 4,
        "hidden_size": 312,
        "intermediate_size": 1200,
        "num_attention_heads": 12,
    },
    "tinybert6": {
        "num_hidden_layers": 6,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_attention_heads": 12,
    },
    "cpu": {
        "num_hidden_layers": 3,
        "hidden_size": 192,
        "intermediate_size": 768,
        "num_attention_heads": 12,
    },
    # The smoke profile's: every code path in seconds and a few MB a run.
    "tiny": {
        "num_hidden_layers": 3,
        "hidden_size": 48,
        "intermediate_size": 96,
        "num_attention_heads": 12,
    },
}


def _check_local(name_or_path: str | Path, what: str) -> None:
    """Fail with a clear message for a missing local folder instead of a hub lookup error."""
    path = Path(name_or_path)
    looks_local = path.is_absolute() or str(name_or_path).startswith(".") or path.exists()
    if looks_local and not (path / "config.json").is_file():
        raise MissingInput(f"{path}: {what} checkpoint not found (no config.json)")


def load_teacher(name_or_path: str | Path, with_head: bool) -> PreTrainedModel:
    """A frozen teacher in eval mode: hub name or local folder of any BERT-family model.

    ``with_head`` loads the sequence-classification model (task distillation needs its
    logits); otherwise the bare encoder (general distillation uses only hidden states and
    attention, so an MLM checkpoint works as is).
    """
    _check_local(name_or_path, "teacher")
    auto = AutoModelForSequenceClassification if with_head else AutoModel
    teacher = auto.from_pretrained(name_or_path, dtype=torch.float32)
    teacher.eval().requires_grad_(False)
    return teacher


def student_config(
    preset: str, teacher_config: PretrainedConfig, **extra: object
) -> PretrainedConfig:
    """A BERT config of ``preset`` size sharing the teacher's vocabulary and positions."""
    if preset not in STUDENT_PRESETS:
        raise DistillError(
            f"unknown student preset {preset!r}; use one of {sorted(STUDENT_PRESETS)}"
        )
    return AutoConfig.for_model(
        "bert",
        vocab_size=teacher_config.vocab_size,
        max_position_embeddings=teacher_config.max_position_embeddings,
        type_vocab_size=getattr(teacher_config, "type_vocab_size", 2),
        pad_token_id=getattr(teacher_config, "pad_token_id", 0),
        **STUDENT_PRESETS[preset],
        **extra,
    )


def new_student(
    preset: str, teacher_config: PretrainedConfig, with_head: bool, seed: int = 0, **extra: object
) -> PreTrainedModel:
    """A randomly initialised student (the "w/o GD" ablation, or general distillation)."""
    config = student_config(preset, teacher_config, **extra)
    torch.manual_seed(seed)
    auto = AutoModelForSequenceClassification if with_head else AutoModel
    return auto.from_config(config)


def load_student(
    path: str | Path, with_head: bool, what: str = "student", **extra: object
) -> PreTrainedModel:
    """A saved student (or any model to evaluate); ``extra`` sets e.g. ``num_labels``."""
    _check_local(path, what)
    auto = AutoModelForSequenceClassification if with_head else AutoModel
    return auto.from_pretrained(path, dtype=torch.float32, **extra)


def check_heads(student: PretrainedConfig, teacher: PretrainedConfig) -> None:
    """The attention loss compares heads one to one, so the counts must agree."""
    if student.num_attention_heads != teacher.num_attention_heads:
        raise DistillError(
            f"attention loss needs equal head counts: student has {student.num_attention_heads}, "
            f"teacher {teacher.num_attention_heads}; disable it (--without attn) or change the "
            "student"
        )


PROJECTION_MODES = ("paper", "per-layer", "released")
PROJECTIONS_FILE = "distill_projections.safetensors"


class Projections(nn.Module):
    """``W_e`` and ``W_h`` (eqs. 8-9): linear maps from student to teacher hidden size.

    ``mode``: ``"paper"`` (default) one ``W_e`` for the embeddings and one ``W_h`` shared by
    every layer, as eqs. 8-9 write them; ``"per-layer"`` one map per student layer
    including the embeddings; ``"released"`` the released code's single ``fit_dense`` for
    the embeddings and every layer.
    """

    def __init__(self, student_hidden: int, teacher_hidden: int, layers: int, mode: str = "paper"):
        super().__init__()
        if mode not in PROJECTION_MODES:
            raise ValueError(f"unknown projection mode {mode!r}; use one of {PROJECTION_MODES}")
        self.mode = mode
        count = {"paper": 2, "per-layer": layers + 1, "released": 1}[mode]
        self.maps = nn.ModuleList(nn.Linear(student_hidden, teacher_hidden) for _ in range(count))

    def forward(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        """Project the student's hidden states of ``layer`` (0 = embeddings)."""
        return self.maps[min(layer, len(self.maps) - 1)](hidden)

    def save(self, directory: Path) -> None:
        """Write the maps beside a student, in their own file (not the model's weights)."""
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(tensors, Path(directory) / PROJECTIONS_FILE, metadata={"mode": self.mode})

    def load_from(self, directory: Path) -> bool:
        """Start from the maps saved beside a student, when they exist and fit (same mode
        and sizes); ``False`` leaves the random initialisation."""
        path = Path(directory) / PROJECTIONS_FILE
        if not path.is_file():
            return False
        saved = load_file(path)
        own = self.state_dict()
        if saved.keys() != own.keys() or any(saved[k].shape != own[k].shape for k in own):
            return False
        self.load_state_dict(saved)
        return True
