"""Stage objectives: what one training step computes from a batch.

``IntermediateDistiller`` (general distillation and task stage 1) bundles the student
with its projections so that one ``nn.Module`` holds every trainable parameter -- the
form Accelerate/DDP need to synchronise gradients -- while the teacher stays outside,
frozen, and runs under ``no_grad``. Stage 2 (``prediction_step``) needs no projections.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from distill.attention import forward_with_scores
from distill.losses import attention_loss, hidden_loss, prediction_loss, weighted_sum
from distill.models import Projections, check_heads

INTERMEDIATE_OBJECTIVES = ("embd", "attn", "hidn")
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
LogitsFn = Callable[[dict[str, torch.Tensor]], torch.Tensor]


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: batch[k] for k in MODEL_INPUTS if k in batch}


def embedding_output(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``hidden_states[0]`` of a full forward, ``(batch, len, hidden)``, without running
    the layers above the embeddings (the same module call, so the same values)."""
    return model.base_model.embeddings(
        input_ids=batch["input_ids"], token_type_ids=batch.get("token_type_ids")
    )


@torch.no_grad()
def mapped_teacher_targets(
    teacher: PreTrainedModel, batch: dict[str, torch.Tensor], mapping: Sequence[int]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The teacher's hidden states at layers ``g(0..M)`` and its scores at ``g(1..M)``."""
    outputs, scores = forward_with_scores(teacher.base_model, **model_inputs(batch))
    return [outputs.hidden_states[n] for n in mapping], [scores[n - 1] for n in mapping[1:]]


class IntermediateDistiller(nn.Module):
    """Student + ``W_e``/``W_h``; ``forward`` returns the embedding/attention/hidden losses.

    ``mapping`` is ``[g(0), ..., g(M)]`` from ``distill.mapping.layer_mapping``;
    ``layer_weights`` are ``lambda_0..lambda_M`` of eq. 11 (1 by default).
    """

    def __init__(
        self,
        student: PreTrainedModel,
        teacher: PreTrainedModel,
        mapping: Sequence[int],
        objectives: Collection[str] = INTERMEDIATE_OBJECTIVES,
        projection: str = "paper",
        padding: str = "masked",
        layer_weights: Sequence[float] | None = None,
    ):
        super().__init__()
        unknown = set(objectives) - set(INTERMEDIATE_OBJECTIVES)
        if unknown or not objectives:
            raise ValueError(
                f"intermediate objectives must be a non-empty subset of {INTERMEDIATE_OBJECTIVES}"
            )
        if "attn" in objectives:
            check_heads(student.config, teacher.config)
        if len(mapping) != student.config.num_hidden_layers + 1:
            raise ValueError(
                f"mapping {list(mapping)} needs {student.config.num_hidden_layers + 1} entries"
            )
        self.student = student
        self.mapping = list(mapping)
        self.objectives = set(objectives)
        # "w/o Trm" (footnote 11) distils the embedding layer alone: the layers above it
        # cannot change its loss, so neither model runs them.
        self.embedding_only = self.objectives == {"embd"} and self.mapping[0] == 0
        self.padding = padding
        self.layer_weights = layer_weights
        self.projections = Projections(
            student.config.hidden_size,
            teacher.config.hidden_size,
            student.config.num_hidden_layers,
            projection,
        )

    @torch.no_grad()
    def teacher_targets(
        self, teacher: PreTrainedModel, batch: dict[str, torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """What the losses read of the teacher: its hidden states and scores at the mapped
        layers ``g(0..M)`` (:func:`mapped_teacher_targets`), or only its embeddings when
        only they are distilled."""
        if self.embedding_only:
            return [embedding_output(teacher, batch)], []
        return mapped_teacher_targets(teacher, batch, self.mapping)

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        teacher_hidden: Sequence[torch.Tensor],
        teacher_scores: Sequence[torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        if self.embedding_only:
            hidden, scores = [embedding_output(self.student, batch)], ()
        else:
            outputs, scores = forward_with_scores(self.student.base_model, **model_inputs(batch))
            hidden = outputs.hidden_states
        mask = batch["attention_mask"]
        token_mask = mask if self.padding == "masked" else None
        per_layer = []
        parts: dict[str, torch.Tensor] = {}
        for m in range(len(self.mapping)):
            terms = {}
            if m == 0 and "embd" in self.objectives:
                terms["embd"] = hidden_loss(
                    self.projections(0, hidden[0]), teacher_hidden[0], token_mask
                )
            if m > 0 and "attn" in self.objectives:
                terms["attn"] = attention_loss(
                    scores[m - 1], teacher_scores[m - 1], mask, self.padding
                )
            if m > 0 and "hidn" in self.objectives:
                terms["hidn"] = hidden_loss(
                    self.projections(m, hidden[m]), teacher_hidden[m], token_mask
                )
            per_layer.append(sum(terms.values(), torch.zeros((), device=mask.device)))
            for name, value in terms.items():
                parts[name] = parts.get(name, 0.0) + value.detach()
        return {"loss": weighted_sum(per_layer, self.layer_weights), **parts}


def teacher_logits(teacher: PreTrainedModel) -> LogitsFn:
    """Stage-2 targets computed by running the frozen teacher on each batch."""

    @torch.no_grad()
    def logits(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return teacher(**model_inputs(batch)).logits

    return logits


def prediction_step(
    student: nn.Module,
    batch: dict[str, torch.Tensor],
    target_logits: LogitsFn,
    temperature: float,
) -> dict[str, torch.Tensor]:
    """Stage 2: match the teacher's logits (eq. 10) at ``temperature``.

    ``target_logits(batch)`` gives the teacher's logits, live (:func:`teacher_logits`) or
    from a cache.
    """
    logits = student(**model_inputs(batch)).logits
    target = target_logits(batch).to(logits.device)
    return {"loss": prediction_loss(logits, target, temperature)}


def gold_label_step(student: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fit the gold labels: teacher fine-tuning, the "w/o Pred" ablation and STS-B's
    stage 2 (cross-entropy; MSE for a regression task's single output)."""
    logits = student(**model_inputs(batch)).logits
    labels = batch["labels"]
    if logits.size(-1) == 1:
        return {"loss": F.mse_loss(logits.squeeze(-1), labels.to(logits.dtype))}
    return {"loss": F.cross_entropy(logits, labels)}
