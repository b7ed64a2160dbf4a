"""Score a sequence-classification model on GLUE dev splits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from distill.distiller import model_inputs
from distill.glue import Example, GlueDataset, LengthBucketSampler, Task, collator
from distill.metrics import compute_metrics


@torch.inference_mode()
def predict(model: PreTrainedModel, loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels over ``loader`` (order does not matter for GLUE metrics)."""
    device = next(model.parameters()).device
    logits, labels = [], []
    for batch in loader:
        inputs = {k: v.to(device) for k, v in model_inputs(batch).items()}
        logits.append(model(**inputs).logits.float().cpu().numpy())
        labels.append(batch["labels"].cpu().numpy())
    return np.concatenate(logits), np.concatenate(labels)


def evaluate(
    model: PreTrainedModel,
    task: Task,
    tokenizer: PreTrainedTokenizerBase,
    dev_sets: Mapping[str, Sequence[Example]],
    batch_size: int = 64,
    max_length: int | None = None,
) -> dict[str, float]:
    """``{"<split>/<metric>": value}`` for each dev set (``{split: examples}``)."""
    was_training = model.training
    model.eval()
    results = {}
    for split, examples in dev_sets.items():
        dataset = GlueDataset(examples, tokenizer, max_length or task.max_length)
        sampler = LengthBucketSampler(dataset.lengths, batch_size, shuffle=False)
        loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collator(tokenizer))
        logits, labels = predict(model, loader)
        for name, value in compute_metrics(task, logits, labels).items():
            results[f"{split}/{name}"] = value
    model.train(was_training)
    return results
