"""Can a task show an effect at all? Its full student against the majority-class baseline.

A task whose full TinyBERT student scores no better than always predicting the most frequent
class cannot tell one row of the tables from another: every row's differences there are
noise. Such a task is still reported, but left out of the averages and the reading (issue
15). The test, per task, on the full row's runs (Table 2's TinyBERT4):

* the baseline predicts the dev set's most frequent gold class for every example (the
  stricter of the two majority baselines: the training set's majority class can only score
  lower on dev);
* the gap is the mean over seeds of the student's primary metric minus the baseline's, on
  the same dev examples;
* its standard error adds two independent parts in quadrature: the dev set's sampling
  error, bootstrapped over dev examples (the same resampled examples for every seed and
  the baseline, so the comparison stays paired), and the seeds' error, the sample standard
  deviation of the per-seed gaps over the square root of the number of seeds;
* the task shows an effect when the gap exceeds two standard errors.

The per-example predictions come from the run records (``RunRecord.predictions``), so the
test needs nothing but the results folder. Records made before predictions were kept give
no verdict, and their task is not left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from distill.experiments.ablations import FULL_RUN
from distill.experiments.layout import RunRecord
from distill.glue import TASKS, Task
from distill.metrics import compute_metrics

BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 0
STANDARD_ERRORS = 2.0
DEV_SPLIT = "dev"


@dataclass(frozen=True)
class MajorityTest:
    """One task's full student against its majority-class baseline (metric x100)."""

    task: str
    seeds: int
    student: float  # mean over seeds
    majority: float
    gap: float  # student - majority, mean over seeds
    dev_se: float  # bootstrap over dev examples
    seed_se: float  # NaN with one seed
    dev_examples: int

    @property
    def standard_error(self) -> float:
        return math.hypot(self.dev_se, 0.0 if math.isnan(self.seed_se) else self.seed_se)

    @property
    def shows_effect(self) -> bool:
        return self.gap > STANDARD_ERRORS * self.standard_error


def metric(task: Task, predicted: np.ndarray, gold: np.ndarray) -> float:
    """The task's primary metric (x100) of predicted class indices, as the tables score it."""
    one_hot = np.eye(len(task.labels))[predicted]
    return 100 * compute_metrics(task, one_hot, gold)[task.metric]


def weighted_metric(task: Task, predicted: np.ndarray, gold: np.ndarray, weights: np.ndarray):
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


def majority_test(
    task: Task,
    predicted: list[np.ndarray],
    gold: np.ndarray,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> MajorityTest:
    """The test of the module docstring for one task: ``predicted`` holds one array of class
    indices per seed, aligned with ``gold``."""
    majority = np.full_like(gold, np.bincount(gold).argmax())
    student = np.array([metric(task, run, gold) for run in predicted])
    baseline = metric(task, majority, gold)
    per_seed = student - baseline
    weights = np.random.default_rng(seed).multinomial(
        len(gold), np.full(len(gold), 1 / len(gold)), draws
    )
    resampled_baseline = weighted_metric(task, majority, gold, weights)
    resampled = np.mean(
        [weighted_metric(task, run, gold, weights) - resampled_baseline for run in predicted],
        axis=0,
    )
    seed_se = per_seed.std(ddof=1) / math.sqrt(len(per_seed)) if len(per_seed) > 1 else math.nan
    return MajorityTest(
        task=task.name,
        seeds=len(predicted),
        student=float(student.mean()),
        majority=baseline,
        gap=float(per_seed.mean()),
        dev_se=float(np.std(resampled, ddof=1)),
        seed_se=float(seed_se),
        dev_examples=len(gold),
    )


def full_runs(results_root: str | Path) -> dict[str, list[RunRecord]]:
    """The full row's run records per task, in seed order."""
    table, row = FULL_RUN
    runs: dict[str, list[RunRecord]] = {}
    for path in sorted(Path(results_root).rglob("seed*.json")):
        record = RunRecord.read(path)
        if record.table == table and record.row.casefold() == row.casefold():
            runs.setdefault(record.task, []).append(record)
    return {task: sorted(records, key=lambda r: r.seed) for task, records in runs.items()}


def majority_tests(results_root: str | Path) -> dict[str, MajorityTest | None]:
    """The test per task with full-row runs; ``None`` where a run kept no predictions."""
    tests: dict[str, MajorityTest | None] = {}
    for task_name, records in full_runs(results_root).items():
        task = TASKS[task_name]
        kept = [r.predictions[DEV_SPLIT] for r in records if DEV_SPLIT in (r.predictions or {})]
        if task.labels is None or len(kept) < len(records):
            tests[task_name] = None
            continue
        gold = _digits(kept[0]["gold"])
        if any(_digits(k["gold"]).tolist() != gold.tolist() for k in kept):
            raise ValueError(f"{task_name}: the full row's runs were scored on different dev sets")
        tests[task_name] = majority_test(task, [_digits(k["predicted"]) for k in kept], gold)
    return tests


def excluded_tasks(tests: dict[str, MajorityTest | None]) -> tuple[str, ...]:
    """Tasks whose full student does not beat the majority class by two standard errors."""
    return tuple(task for task, test in tests.items() if test is not None and not test.shows_effect)


def majority_table(tests: dict[str, MajorityTest | None]) -> pd.DataFrame:
    """The tests as display strings, one row per task."""
    rows = {}
    for task_name, test in tests.items():
        label = TASKS[task_name].directory
        if test is None:
            rows[label] = ["–"] * 6 + ["no predictions recorded: not tested"]
            continue
        verdict = "shows an effect" if test.shows_effect else "excluded from averages and reading"
        rows[label] = [
            f"{test.student:.1f}",
            f"{test.majority:.1f}",
            f"{test.gap:+.1f}",
            f"{test.standard_error:.1f} (dev {test.dev_se:.1f}, seeds {_number(test.seed_se)})",
            str(test.seeds),
            str(test.dev_examples),
            verdict,
        ]
    columns = ["TinyBERT4", "majority class", "gap", "SE", "seeds", "dev examples", "verdict"]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    frame.index.name = "Task"
    return frame


def _digits(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) - ord("0")


def _number(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"
