"""The cost tables: task-run core-minutes per seed and task, the shared pieces, and
core-seconds per 1,000 training examples of each stage."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.cost import (
    GENERAL,
    STAGE1,
    STAGE2,
    TEACHER,
    cost_markdown,
    main,
    row_minutes,
    seconds_per_1000_examples,
    shared_minutes,
    stage_examples,
    task_minutes,
    teacher_cache_peak_gb,
)
from analysis.tables import load_results

RUNS = [
    # (table, row, task, seed, metrics, train_seconds); wall_time_s is always 60
    ("table2", "TinyBERT4", "mrpc", 0, {"f1": 0.8, "acc": 0.7}, 600.0),
    ("table2", "w/o GD", "mrpc", 0, {"f1": 0.7, "acc": 0.6}, 300.0),
    ("table2", "TinyBERT4", "mrpc", 1, {"f1": 0.8, "acc": 0.7}, 1200.0),
    ("table2", "TinyBERT4", "SST-2", 0, {"acc": 0.9}, None),  # falls back to wall time
]


def write(root, relative, record):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


@pytest.fixture
def results_root(tmp_path):
    for table, row, task, seed, metrics, seconds in RUNS:
        record = {"table": table, "row": row, "task": task, "seed": seed, "metrics": metrics,
                  "wall_time_s": 60.0}  # fmt: skip
        if seconds is not None:
            record["train_seconds"] = seconds
        record["command"] = task_command(
            "no-gd" if row == "w/o GD" else "full", augmented=True, stage1=2, stage2=1
        )
        write(tmp_path, f"{table}/{row.replace('/', '')}/{task}/seed{seed}.json", record)
    write(tmp_path, "teachers/mrpc.json", {"task": "mrpc", "wall_time_s": 90.0,
                                           "command": ["finetune", "--epochs", "3"]})  # fmt: skip
    for task in ("mrpc", "SST-2"):
        augmentation = {"task": task, "wall_time_s": 30.0, "input_lines": 101, "output_lines": 500}
        write(tmp_path, f"augment/{task}.json", augmentation)
    write(tmp_path, "general.json", {"wall_time_s": 240.0, "final_log": {"step": 10},
                                     "command": ["general", "--batch-size", "32"]})  # fmt: skip
    return tmp_path


def task_command(experiment: str, augmented: bool, stage1: int, stage2: int) -> list[str]:
    """A recorded ``python -m distill task`` command line, as the runner writes it."""
    command = ["python", "-m", "distill", "task", "--experiment", experiment]
    command += ["--augmented-train", "train_aug.tsv"] if augmented else []
    return command + ["--stage1-epochs", str(stage1), "--stage2-epochs", str(stage2)]


def test_task_minutes_counts_each_run_once_per_seed_and_task(results_root):
    minutes = task_minutes(load_results(results_root))
    assert list(minutes.columns) == ["MRPC", "SST-2", "all"]
    assert minutes.loc[0, "MRPC"] == 15.0  # 600 s + 300 s, not doubled by two metrics
    assert minutes.loc[1, "MRPC"] == 20.0
    assert minutes.loc[0, "SST-2"] == 1.0  # wall_time_s where train_seconds is absent
    assert minutes.loc["all", "all"] == 36.0


def test_row_minutes_sum_each_rows_seeds_per_task(results_root):
    minutes = row_minutes(load_results(results_root))
    assert list(minutes.index) == ["table2 · TinyBERT4", "table2 · w/o GD", "all"]
    assert minutes.loc["table2 · TinyBERT4", "MRPC"] == 30.0  # seeds 0 and 1: 600 s + 1200 s
    assert minutes.loc["table2 · w/o GD", "MRPC"] == 5.0
    assert minutes.loc["table2 · TinyBERT4", "SST-2"] == 1.0
    assert minutes.loc["all", "all"] == 36.0  # the same total as per seed


def test_row_minutes_lists_rows_in_the_tables_order():
    """The paper's order within each table, then our rows, then the studies'; not the
    alphabetical order of the records' folders."""
    settings = [
        ("augmentation-size", "N_a x4"), ("table4", "Adaptive (ours)"), ("table4", "Top"),
        ("table2", "w/o DA"), ("table2", "w/o GD"), ("table2", "TinyBERT4"),
    ]  # fmt: skip
    results = pd.DataFrame(
        [
            {"path": f"{table}/{row}/mrpc/seed0.json", "table": table, "row": row,
             "task": "mrpc", "seed": 0, "train_seconds": 60.0, "wall_time_s": 61.0}
            for table, row in settings
        ]
    )  # fmt: skip
    assert list(row_minutes(results).index) == [
        "table2 · TinyBERT4", "table2 · w/o GD", "table2 · w/o DA", "table4 · Top",
        "table4 · Adaptive (ours)", "augmentation-size · N_a x4", "all",
    ]  # fmt: skip


def test_shared_minutes_lists_every_piece(results_root):
    shared = shared_minutes(results_root)
    assert shared.to_dict() == {
        "teacher mrpc": 1.5, "augmentation SST-2": 0.5, "augmentation mrpc": 0.5,
        "general distillation": 4.0,
    }  # fmt: skip


def test_a_piece_without_wall_time_is_a_clear_error(results_root):
    write(results_root, "teachers/cola.json", {"task": "cola"})
    with pytest.raises(ValueError, match=r"teachers/cola.json lacks 'wall_time_s'"):
        shared_minutes(results_root)


def test_markdown_states_the_totals(results_root):
    markdown = cost_markdown(results_root)
    assert "| seed | MRPC | SST-2 | all |" in markdown
    assert "_4 runs, 0.60 core-hours._" in markdown
    assert "_0.11 hours._" in markdown  # 390 s


def test_command_line_updates_the_cost_block(results_root, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- cost:begin -->\nold\n<!-- cost:end -->\nafter\n")
    main([str(results_root), "--update", str(readme)])
    text = readme.read_text()
    assert "old" not in text and "_4 runs, 0.60 core-hours._" in text
    assert text.startswith("before\n") and text.endswith("after\n")
    readme.write_text("no block\n")
    with pytest.raises(SystemExit) as exit_info:
        main([str(results_root), "--update", str(readme)])
    assert exit_info.value.code == 1 and "cost:begin" in capsys.readouterr().err


# Known rates, seconds per example: every run's time is what they predict.
STAGE1_RATE, STAGE2_RATE = 0.020, 0.005
ORIGINAL, AUGMENTED = 100, 500  # MRPC's file has a header line: input_lines 101


@pytest.mark.parametrize(
    ("experiment", "augmented", "stage1", "stage2", "examples"),
    [
        ("full", True, 2, 1, (1000, 500)),
        ("full", True, 5, 1, (2500, 500)),  # a grid with other epochs
        ("no-td", True, 2, 1, (0, 500)),  # w/o TD: stage 2 only
        ("no-da", False, 2, 1, (200, 100)),  # w/o DA: the original set
        ("no-pred", True, 2, 3, (1000, 300)),  # gold labels of the original set in stage 2
        ("no-trm", True, 2, 1, (1000, 500)),  # embeddings only: still a stage 1
    ],
)
def test_stage_examples_follow_the_recorded_commands(
    tmp_path, experiment, augmented, stage1, stage2, examples
):
    write(tmp_path, "augment/mrpc.json",
          {"task": "mrpc", "input_lines": ORIGINAL + 1, "output_lines": AUGMENTED})  # fmt: skip
    record = {"task": "mrpc", "wall_time_s": 9.0, "train_seconds": 8.0,
              "command": task_command(experiment, augmented, stage1, stage2)}  # fmt: skip
    write(tmp_path, "table2/x/mrpc/seed0.json", record)
    runs = stage_examples(tmp_path)
    assert runs[[STAGE1, STAGE2]].iloc[0].tolist() == list(examples)
    assert runs["seconds"].tolist() == [8.0]


def test_rates_per_1000_examples_are_recovered_across_epochs_and_stages(tmp_path):
    grid = [("full", True, 2, 1), ("full", True, 5, 2), ("no-td", True, 2, 1),
            ("no-da", False, 2, 1), ("no-pred", True, 2, 1)]  # fmt: skip
    for task, original in (("mrpc", ORIGINAL), ("cola", 50)):  # CoLA's file has no header
        lines = original + (task == "mrpc")
        write(tmp_path, f"augment/{task}.json",
              {"task": task, "input_lines": lines, "output_lines": AUGMENTED})  # fmt: skip
        for seed, (experiment, augmented, stage1, stage2) in enumerate(grid):
            command = task_command(experiment, augmented, stage1, stage2)
            write(tmp_path, f"table2/{experiment}/{task}/seed{seed}.json",
                  {"task": task, "wall_time_s": 1.0, "command": command})  # fmt: skip
    write(tmp_path, "teachers/mrpc.json",
          {"task": "mrpc", "wall_time_s": 30.0, "command": ["--epochs", "3"]})  # fmt: skip
    write(tmp_path, "general.json", {"wall_time_s": 16.0, "final_log": {"step": 10},
                                     "command": ["--batch-size", "32"]})  # fmt: skip
    runs = stage_examples(tmp_path)
    cola = runs[runs["task"] == "cola"]
    assert sorted(cola[STAGE2]) == [50, 50, 500, 500, 1000]  # w/o DA, w/o Pred: original set
    task_runs = runs[STAGE1] + runs[STAGE2] > 0
    # each task run takes exactly the time the known rates give its examples
    runs.loc[task_runs, "seconds"] = STAGE1_RATE * runs[STAGE1] + STAGE2_RATE * runs[STAGE2]
    table = seconds_per_1000_examples(runs)
    assert list(table.columns) == ["MRPC", "CoLA", "all"]
    for column in ("MRPC", "CoLA", "all"):
        assert table.loc[STAGE1, column] == pytest.approx(1000 * STAGE1_RATE)
        assert table.loc[STAGE2, column] == pytest.approx(1000 * STAGE2_RATE)
    assert table.loc[TEACHER, "MRPC"] == 100.0  # 30 s for 3 epochs of 100 examples
    assert pd.isna(table.loc[TEACHER, "CoLA"])  # no teacher record
    assert table.loc[GENERAL, "all"] == 50.0 and pd.isna(table.loc[GENERAL, "MRPC"])


def test_a_task_without_its_augmentation_record_is_a_clear_error(tmp_path):
    command = task_command("full", True, 2, 1)
    write(tmp_path, "table2/full/rte/seed0.json",
          {"task": "rte", "wall_time_s": 1.0, "command": command})  # fmt: skip
    with pytest.raises(ValueError, match=r"seed0.json: no augment/rte.json"):
        stage_examples(tmp_path)


def test_markdown_lists_the_rates_per_1000_examples(results_root):
    markdown = cost_markdown(results_root)
    assert "Core-seconds per 1,000 training examples" in markdown
    assert "| stage | MRPC | SST-2 | all |" in markdown
    assert "| general distillation | – | – | 750.0 |" in markdown  # 240 s / 320 examples


def test_records_with_settings_give_their_own_example_counts(tmp_path):
    """The runner's newer records state each stage's examples per epoch and epochs."""
    settings = {"stage1_examples": 400, "stage1_epochs": 3, "stage2_examples": 100,
                "stage2_epochs": 2}  # fmt: skip
    record = {"task": "rte", "wall_time_s": 9.0, "train_seconds": 8.0, "settings": settings,
              "command": task_command("full", True, 99, 99)}  # fmt: skip
    write(tmp_path, "table2/full/rte/seed0.json", record)
    without_stage1 = {**record, "settings": {**settings, "stage1_examples": None,
                                             "stage1_epochs": None}}  # fmt: skip
    write(tmp_path, "table2/no-td/rte/seed0.json", without_stage1)
    runs = stage_examples(tmp_path)  # no augmentation record needed
    assert runs[[STAGE1, STAGE2]].to_numpy().tolist() == [[1200, 200], [0, 200]]


def test_the_teacher_cache_peak_is_the_largest_size_a_run_recorded(results_root):
    assert "Teacher cache" not in cost_markdown(results_root)  # older records: no size
    for size, path in zip((3e9, 7.25e9), sorted(results_root.rglob("seed*.json"))[:2], strict=True):
        record = json.loads(path.read_text())
        path.write_text(json.dumps(record | {"teacher_cache_bytes": int(size)}))
    assert teacher_cache_peak_gb(results_root) == pytest.approx(7.25)
    assert "_Teacher cache: at most 7.2 GB on disk at the end of a run._" in cost_markdown(
        results_root
    )


def test_every_teacher_candidate_counts_and_an_unwritten_flag_is_its_default(tmp_path):
    """A teacher record lists each pre-trained start it fine-tuned; the runner writes only
    the flags that differ from their defaults (here ``--epochs``, 3 by default)."""
    write(tmp_path, "augment/mrpc.json",
          {"task": "mrpc", "input_lines": ORIGINAL + 1, "output_lines": AUGMENTED})  # fmt: skip
    candidates = [
        {"task": "mrpc", "wall_time_s": 40.0, "train_seconds": 30.0, "command": ["finetune"]},
        {"task": "mrpc", "wall_time_s": 70.0, "command": ["finetune", "--epochs", "6"]},
    ]
    write(tmp_path, "teachers/mrpc.json",
          candidates[1] | {"candidates": candidates, "wall_time_s": 110.0})  # fmt: skip
    runs = stage_examples(tmp_path)
    assert runs[["seconds", TEACHER]].to_numpy().tolist() == [[30.0, 300], [70.0, 600]]
