"""The cost tables: task-run core-minutes per seed and task, and the shared pieces."""

from __future__ import annotations

import json

import pytest

from analysis.cost import cost_markdown, main, shared_minutes, task_minutes
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
        write(tmp_path, f"{table}/{row.replace('/', '')}/{task}/seed{seed}.json", record)
    write(tmp_path, "teachers/mrpc.json", {"task": "mrpc", "wall_time_s": 90.0})
    write(tmp_path, "augment/mrpc.json", {"task": "mrpc", "wall_time_s": 30.0})
    write(tmp_path, "general.json", {"wall_time_s": 240.0})
    return tmp_path


def test_task_minutes_counts_each_run_once_per_seed_and_task(results_root):
    minutes = task_minutes(load_results(results_root))
    assert list(minutes.columns) == ["MRPC", "SST-2", "all"]
    assert minutes.loc[0, "MRPC"] == 15.0  # 600 s + 300 s, not doubled by two metrics
    assert minutes.loc[1, "MRPC"] == 20.0
    assert minutes.loc[0, "SST-2"] == 1.0  # wall_time_s where train_seconds is absent
    assert minutes.loc["all", "all"] == 36.0


def test_shared_minutes_lists_every_piece(results_root):
    shared = shared_minutes(results_root)
    assert shared.to_dict() == {
        "teacher mrpc": 1.5, "augmentation mrpc": 0.5, "general distillation": 4.0
    }  # fmt: skip


def test_a_piece_without_wall_time_is_a_clear_error(results_root):
    write(results_root, "teachers/cola.json", {"task": "cola"})
    with pytest.raises(ValueError, match=r"teachers/cola.json lacks 'wall_time_s'"):
        shared_minutes(results_root)


def test_markdown_states_the_totals(results_root):
    markdown = cost_markdown(results_root)
    assert "| seed | MRPC | SST-2 | all |" in markdown
    assert "_4 runs, 0.60 core-hours._" in markdown
    assert "_0.10 hours._" in markdown


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
