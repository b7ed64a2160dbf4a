"""Score a sequence-classification model on GLUE dev splits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from distill.distiller import model_inputs
from distill.glue import Example, GlueDataset, LengthBucketSampler, Task, collator
from distill.metrics import compute_metrics


@dataclass(frozen=True)
class DevOutputs:
    """A model's outputs on one dev split, row for row in the split's order: logits
    (examples, classes) or regression scores (examples, 1), and the gold labels."""

    outputs: np.ndarray
    labels: np.ndarray

    def predicted(self) -> np.ndarray:
        """Each example's predicted class, or its score for a regression task."""
        return self.outputs.reshape(-1) if self.outputs.shape[1] == 1 else self.outputs.argmax(-1)


@torch.inference_mode()
def predict(
    model: PreTrainedModel,
    dataset: GlueDataset,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int,
) -> DevOutputs:
    """The model's outputs on ``dataset``, batched by length for speed and returned in the
    dataset's order, so that predictions line up with the examples they score."""
    device = next(model.parameters()).device
    sampler = LengthBucketSampler(dataset.lengths, batch_size, shuffle=False)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collator(tokenizer))
    outputs, labels = [], []
    for batch in loader:
        inputs = {k: v.to(device) for k, v in model_inputs(batch).items()}
        outputs.append(model(**inputs).logits.float().cpu().numpy())
        labels.append(batch["labels"].cpu().numpy())
    dataset_order = np.argsort(np.concatenate([np.asarray(b) for b in sampler]), kind="stable")
    return DevOutputs(np.concatenate(outputs)[dataset_order], np.concatenate(labels)[dataset_order])


def dev_outputs(
    model: PreTrainedModel,
    task: Task,
    tokenizer: PreTrainedTokenizerBase,
    dev_sets: Mapping[str, Sequence[Example]],
    batch_size: int = 64,
    max_length: int | None = None,
) -> dict[str, DevOutputs]:
    """``{split: DevOutputs}`` for each dev set (``{split: examples}``), in eval mode."""
    was_training = model.training
    model.eval()
    outputs = {
        split: predict(
            model,
            GlueDataset(examples, tokenizer, max_length or task.max_length),
            tokenizer,
            batch_size,
        )
        for split, examples in dev_sets.items()
    }
    model.train(was_training)
    return outputs


def split_metrics(task: Task, outputs: Mapping[str, DevOutputs]) -> dict[str, float]:
    """``{"<split>/<metric>": value}`` for each split's outputs."""
    return {
        f"{split}/{name}": value
        for split, scored in outputs.items()
        for name, value in compute_metrics(task, scored.outputs, scored.labels).items()
    }
