"""The majority-class test that decides which tasks enter the averages and the reading."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score, matthews_corrcoef

from analysis.majority import excluded_tasks, majority_table, majority_test, majority_tests
from analysis.paired import metric, weighted_metric
from analysis.tables import aggregate, comparison_table, load_results, write_tables
from distill.glue import TASKS

RNG = np.random.default_rng(0)
GOLD = (RNG.random(400) < 0.7).astype(np.uint8)  # 70% of class 1, like MRPC's dev set


def flipped(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``labels`` with ``count`` random entries flipped."""
    out = labels.copy()
    rows = np.random.default_rng(seed).choice(len(labels), count, replace=False)
    out[rows] = 1 - out[rows]
    return out


def test_metric_is_the_tables_primary_metric_of_class_indices():
    predicted = flipped(GOLD, 60, seed=1)
    assert metric(TASKS["mrpc"], predicted, GOLD) == pytest.approx(100 * f1_score(GOLD, predicted))
    assert metric(TASKS["cola"], predicted, GOLD) == pytest.approx(
        100 * matthews_corrcoef(GOLD, predicted)
    )


@pytest.mark.filterwarnings("ignore:A single label was found")  # the 0/0 draw, on purpose
@pytest.mark.parametrize("task", ["mrpc", "cola", "rte"])
def test_the_bootstrap_closed_forms_equal_scikit_learn_on_every_resample(task):
    predicted = flipped(GOLD, 90, seed=2)
    weights = np.random.default_rng(3).multinomial(len(GOLD), np.full(len(GOLD), 1 / len(GOLD)), 20)
    weights[0] = 0  # one predicted class only: MCC is 0/0, which scikit-learn scores 0
    weights[0, np.flatnonzero(predicted == 1)[:5]] = 1
    for draw, row in zip(
        weighted_metric(TASKS[task], predicted, GOLD, weights), weights, strict=True
    ):
        rows = np.repeat(np.arange(len(GOLD)), row)
        assert draw == pytest.approx(metric(TASKS[task], predicted[rows], GOLD[rows]))


def test_a_student_that_predicts_the_majority_class_shows_no_effect():
    majority = np.ones_like(GOLD)
    test = majority_test(TASKS["rte"], [majority] * 3, GOLD)
    assert test.majority == pytest.approx(100 * GOLD.mean())
    assert test.difference.gap == 0 and not test.shows_effect


def test_a_gap_within_the_dev_sets_sampling_error_shows_no_effect():
    """A student that leaves the majority class on 40 of 400 examples, 23 times rightly and
    17 times wrongly (+1.5 points in every seed), has not shown an effect: the seeds agree,
    but the paired bootstrap over dev examples puts the gap within its error."""
    noisy = np.ones_like(GOLD)
    noisy[np.flatnonzero(GOLD == 0)[:23]] = 0
    noisy[np.flatnonzero(GOLD == 1)[:17]] = 0
    test = majority_test(TASKS["rte"], [noisy] * 3, GOLD)
    assert test.difference.gap == pytest.approx(1.5)
    assert test.difference.seed_se == 0 and test.difference.dev_se > 0.75
    assert not test.shows_effect


def test_a_real_student_shows_an_effect_and_the_bootstrap_is_seeded():
    students = [flipped(GOLD, 60, seed) for seed in range(3)]  # 85% accurate, baseline ~70%
    test = majority_test(TASKS["rte"], students, GOLD)
    accuracy = 100 * np.mean([(student == GOLD).mean() for student in students])
    assert test.difference.gap == pytest.approx(accuracy - 100 * GOLD.mean())
    assert test.shows_effect and test.difference.seeds == 3 and test.dev_examples == 400
    assert majority_test(TASKS["rte"], students, GOLD) == test  # same seed, same numbers


def write_full_runs(root, task, students, with_predictions=True, metric_key="dev/acc"):
    for seed, predicted in enumerate(students):
        record = {
            "table": "table2",
            "row": "TinyBERT4",
            "task": task,
            "seed": seed,
            "metrics": {metric_key: float((predicted == GOLD).mean())},
        }
        if with_predictions:
            record["predictions"] = {
                "dev": {"predicted": "".join(map(str, predicted)), "gold": "".join(map(str, GOLD))}
            }
        path = root / "table2" / "full" / task / f"seed{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record))


def test_a_task_without_an_effect_stays_in_the_tables_but_out_of_the_average(tmp_path):
    write_full_runs(tmp_path, "sst-2", [flipped(GOLD, 60, seed) for seed in range(3)])
    write_full_runs(tmp_path, "rte", [np.ones_like(GOLD)] * 3)
    write_full_runs(tmp_path, "mrpc", [GOLD] * 2, with_predictions=False, metric_key="dev/f1")
    tests = majority_tests(tmp_path)
    assert tests["sst-2"].shows_effect and not tests["rte"].shows_effect
    assert tests["mrpc"] is None  # records without predictions give no verdict

    table = comparison_table(aggregate(load_results(tmp_path)), "table2", excluded=("rte",))
    row = table.loc["TinyBERT4"]
    assert row["RTE (ours, no effect)"] == f"{100 * GOLD.mean():.1f} ± 0.0"
    assert row["Avg (ours, without RTE)"] == f"{(100 + tests['sst-2'].student) / 2:.1f}"

    written = {path.name: path for path in write_tables(tmp_path, tmp_path / "out", formats=())}
    majority = written["majority.md"].read_text()
    assert "excluded from averages and reading" in majority and "no predictions" in majority
    assert "Avg (ours, without RTE)" in written["table2.md"].read_text()


def test_one_seed_is_not_tested_and_its_task_is_not_left_out(tmp_path):
    write_full_runs(tmp_path, "rte", [np.ones_like(GOLD)])  # the majority class, one seed
    (test,) = majority_tests(tmp_path).values()
    assert not test.tested and not test.shows_effect
    assert np.isnan(test.difference.standard_error)
    assert excluded_tasks({"rte": test}) == ()
    assert majority_table({"rte": test}).loc["RTE", "verdict"] == "one seed: not tested"
