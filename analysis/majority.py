"""Can a task show an effect at all? Its full student against the majority-class baseline.

A task whose full TinyBERT student scores no better than always predicting the most frequent
class cannot tell one row of the tables from another: every row's differences there are
noise. Such a task is still reported, but left out of the averages and the reading (issue
15). The test, per task, on the full row's runs (Table 2's TinyBERT4):

* the baseline predicts the dev set's most frequent gold class for every example (the
  stricter of the two majority baselines: the training set's majority class can only score
  lower on dev);
* the gap is the mean over seeds of the student's primary metric minus the baseline's, on
  the same dev examples, with the paired standard error of :mod:`analysis.paired`;
* the task shows an effect when the gap exceeds two standard errors.

Records made before predictions were kept (``RunRecord.predictions``), and a single seed
(whose seeds' error is unknown), give no verdict, and their task is not left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.paired import PairedGap, metric, paired_gap, shared_dev_set
from distill.experiments.ablations import FULL_RUN
from distill.experiments.layout import RunRecord
from distill.glue import TASKS, Task


@dataclass(frozen=True)
class MajorityTest:
    """One task's full student against its majority-class baseline (metric x100)."""

    task: str
    student: float  # mean over seeds
    majority: float
    difference: PairedGap  # student - majority
    dev_examples: int

    @property
    def tested(self) -> bool:
        """Whether the test can decide: two seeds at least (:mod:`analysis.paired`)."""
        return self.difference.judged

    @property
    def shows_effect(self) -> bool:
        return self.difference.direction > 0


def majority_test(task: Task, predicted: list[np.ndarray], gold: np.ndarray) -> MajorityTest:
    """The test of the module docstring for one task: ``predicted`` holds one array of class
    indices per seed, aligned with ``gold``."""
    majority = np.full_like(gold, np.bincount(gold).argmax())
    return MajorityTest(
        task=task.name,
        student=float(np.mean([metric(task, run, gold) for run in predicted])),
        majority=metric(task, majority, gold),
        difference=paired_gap(task, predicted, [majority] * len(predicted), gold),
        dev_examples=len(gold),
    )


def full_runs(results_root: str | Path) -> dict[str, list[RunRecord]]:
    """The full row's run records per task, in seed order; a seed recorded twice (two
    results folders under one root) is an error, not a silent choice."""
    table, row = FULL_RUN
    runs: dict[str, dict[int, RunRecord]] = {}
    for path in sorted(Path(results_root).rglob("seed*.json")):
        record = RunRecord.read(path)
        if record.table == table and record.row.casefold() == row.casefold():
            by_seed = runs.setdefault(record.task, {})
            if int(record.seed) in by_seed:
                raise ValueError(f"{path}: {record.task} seed {record.seed} is recorded twice")
            by_seed[int(record.seed)] = record
    return {task: [by_seed[seed] for seed in sorted(by_seed)] for task, by_seed in runs.items()}


def majority_tests(results_root: str | Path) -> dict[str, MajorityTest | None]:
    """The test per task with full-row runs; ``None`` where a run kept no predictions."""
    tests: dict[str, MajorityTest | None] = {}
    for task_name, records in full_runs(results_root).items():
        task = TASKS[task_name]
        kept = shared_dev_set(task_name, records) if task.labels is not None else None
        tests[task_name] = None if kept is None else majority_test(task, kept[1], kept[0])
    return tests


def excluded_tasks(tests: dict[str, MajorityTest | None]) -> tuple[str, ...]:
    """Tasks whose full student does not beat the majority class by two standard errors."""
    return tuple(
        task
        for task, test in tests.items()
        if test is not None and test.tested and not test.shows_effect
    )


def majority_table(tests: dict[str, MajorityTest | None]) -> pd.DataFrame:
    """The tests as display strings, one row per task."""
    rows = {}
    for task_name, test in tests.items():
        label = TASKS[task_name].directory
        if test is None:
            rows[label] = ["–"] * 6 + ["no predictions recorded: not tested"]
            continue
        if not test.tested:
            verdict = "one seed: not tested"
        elif test.shows_effect:
            verdict = "shows an effect"
        else:
            verdict = "excluded from averages and reading"
        rows[label] = [
            f"{test.student:.1f}",
            f"{test.majority:.1f}",
            f"{test.difference.gap:+.1f}",
            _standard_error(test.difference),
            str(test.difference.seeds),
            str(test.dev_examples),
            verdict,
        ]
    columns = ["TinyBERT4", "majority class", "gap", "SE", "seeds", "dev examples", "verdict"]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    frame.index.name = "Task"
    return frame


def _standard_error(difference: PairedGap) -> str:
    if math.isnan(difference.seed_se):
        return f"– (dev {difference.dev_se:.1f}, seeds –)"
    return (
        f"{difference.standard_error:.1f} (dev {difference.dev_se:.1f}, "
        f"seeds {difference.seed_se:.1f})"
    )
