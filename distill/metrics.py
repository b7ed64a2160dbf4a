"""GLUE dev metrics, computed with scikit-learn and scipy as the GLUE benchmark defines them."""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from distill.glue import Task


def compute_metrics(task: Task, predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``predictions`` are logits (batch, classes) or regression outputs (batch, 1)."""
    if task.labels is None:
        scores = predictions.reshape(-1)
        return {
            "pearson": float(pearsonr(scores, labels)[0]),
            "spearman": float(spearmanr(scores, labels)[0]),
        }
    predicted = predictions.argmax(-1)
    if task.name == "cola":
        return {"mcc": float(matthews_corrcoef(labels, predicted))}
    result = {"acc": float(accuracy_score(labels, predicted))}
    if task.name in ("mrpc", "qqp"):
        result["f1"] = float(f1_score(labels, predicted))
    return result
