"""Two sets of runs compared on the same dev examples, seed by seed, with a standard error.

Used for both questions the reading asks of the records: does a task show an effect at all
(the full student against the majority class, :mod:`analysis.majority`), and does a row of
the tables differ from the full procedure (:mod:`analysis.conclusions`). For runs ``a`` and
``b`` of the same seeds, scored by the task's primary metric (x100):

* the gap is the mean over seeds of ``a - b``;
* its standard error adds two independent parts in quadrature: the dev set's sampling
  error, bootstrapped over dev examples (the same resampled examples for every run, so the
  comparison stays paired), and the seeds' error, the sample standard deviation of the
  per-seed gaps over the square root of the number of seeds;
* a gap is resolved when it is more than two standard errors from zero. One seed has no
  seeds' error, so its standard error is unknown (NaN) and its gap is never resolved: the
  dev set's error alone would make a single lucky seed look decisive.

The per-example predictions come from the run records (``RunRecord.predictions``), so the
comparison needs nothing but the results folder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from distill.experiments.layout import RunRecord
from distill.glue import DEV_SPLIT, Task
from distill.metrics import compute_metrics

BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 0
STANDARD_ERRORS = 2.0


@dataclass(frozen=True)
class PairedGap:
    """Runs ``a`` minus runs ``b`` on the same seeds and dev examples (metric x100)."""

    seeds: int
    gap: float  # mean over seeds of a - b
    below: int  # seeds in which a scored below b
    dev_se: float  # bootstrap over dev examples
    seed_se: float  # NaN with one seed

    @property
    def standard_error(self) -> float:
        """NaN with one seed, whose seeds' error is unknown."""
        return math.hypot(self.dev_se, self.seed_se)

    @property
    def judged(self) -> bool:
        """Whether the gap can be judged at all: two seeds at least."""
        return self.seeds > 1

    @property
    def direction(self) -> int:
        """+1 or -1 when the gap is more than two standard errors above or below zero,
        else 0 (always with one seed)."""
        if not abs(self.gap) > STANDARD_ERRORS * self.standard_error:  # False for NaN
            return 0
        return 1 if self.gap > 0 else -1


def metric(task: Task, predicted: np.ndarray, gold: np.ndarray) -> float:
    """The task's primary metric (x100) of predicted class indices, as the tables score it."""
    one_hot = np.eye(len(task.labels))[predicted]
    return 100 * compute_metrics(task, one_hot, gold)[task.metric]


def weighted_metric(
    task: Task, predicted: np.ndarray, gold: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """The task's primary metric (x100) under each row of ``weights`` (draws, examples), the
    number of times each example is drawn: a bootstrap resample without materialising it.

    Closed forms of the confusion counts, so that thousands of draws take a moment; they
    equal :func:`metric` (scikit-learn) on every resample, which the tests check.
    """
    if task.metric == "acc":
        return 100 * weights @ (predicted == gold) / weights.sum(axis=1)
    tp, fp, fn, tn = (
        weights @ ((predicted == p) & (gold == g)) for p, g in ((1, 1), (1, 0), (0, 1), (0, 0))
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        if task.metric == "f1":
            value = 2 * tp / (2 * tp + fp + fn)
        elif task.metric == "mcc":
            value = (tp * tn - fp * fn) / np.sqrt(
                (tp + fp).astype(float) * (tp + fn) * (tn + fp) * (tn + fn)
            )
        else:
            raise ValueError(f"{task.name}: no closed form for {task.metric}")
    return 100 * np.nan_to_num(value)  # scikit-learn's 0 where a count is empty


def paired_gap(
    task: Task,
    a: list[np.ndarray],
    b: list[np.ndarray],
    gold: np.ndarray,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> PairedGap:
    """The comparison of the module docstring: ``a[s]`` and ``b[s]`` hold seed ``s``'s
    predicted class indices, aligned with ``gold``."""
    if len(a) != len(b) or not a:
        raise ValueError(f"{task.name}: {len(a)} runs against {len(b)}; need the same seeds")
    pairs = list(zip(a, b, strict=True))
    per_seed = np.array([metric(task, x, gold) - metric(task, y, gold) for x, y in pairs])
    weights = np.random.default_rng(seed).multinomial(
        len(gold), np.full(len(gold), 1 / len(gold)), draws
    )
    resampled = np.mean(
        [
            weighted_metric(task, x, gold, weights) - weighted_metric(task, y, gold, weights)
            for x, y in pairs
        ],
        axis=0,
    )
    seed_se = per_seed.std(ddof=1) / math.sqrt(len(per_seed)) if len(per_seed) > 1 else math.nan
    return PairedGap(
        seeds=len(a),
        gap=float(per_seed.mean()),
        below=int((per_seed < 0).sum()),
        dev_se=float(np.std(resampled, ddof=1)),
        seed_se=float(seed_se),
    )


def shared_dev_set(
    task_name: str, records: Sequence[RunRecord]
) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """The gold classes all ``records`` were scored on, and each record's predicted
    classes in order; ``None`` if one kept no predictions. Runs scored on different dev
    sets cannot be paired: a ``ValueError`` names the task."""
    kept = [dev_predictions(record) for record in records]
    if not kept or any(run is None for run in kept):
        return None
    gold = kept[0][0]
    if any(not np.array_equal(run_gold, gold) for run_gold, _ in kept):
        raise ValueError(f"{task_name}: runs compared by seed were scored on different dev sets")
    return gold, [predicted for _, predicted in kept]


def dev_predictions(record: RunRecord) -> tuple[np.ndarray, np.ndarray] | None:
    """``(gold, predicted)`` class indices of a run's dev set; ``None`` for a record made
    before predictions were kept."""
    kept = (record.predictions or {}).get(DEV_SPLIT)
    if kept is None:
        return None
    return _digits(kept["gold"]), _digits(kept["predicted"])


def _digits(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) - ord("0")
