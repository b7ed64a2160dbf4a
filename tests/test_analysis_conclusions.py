"""Which of the paper's conclusions hold: each row against the full procedure, paired by
seed and dev example, with a verdict that only a resolved gap can give."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis import conclusions as module
from analysis.conclusions import (
    augmentation_size,
    conclusions,
    conclusions_markdown,
    conclusions_table,
)
from analysis.tables import PAPER_REFERENCE

RNG = np.random.default_rng(0)
GOLD = (RNG.random(400) < 0.5).astype(np.uint8)


def flipped(count: int, seed: int) -> np.ndarray:
    """GOLD with ``count`` random entries wrong."""
    out = GOLD.copy()
    rows = np.random.default_rng(seed).choice(len(GOLD), count, replace=False)
    out[rows] = 1 - out[rows]
    return out


def write_runs(root, table, row, task, students, gold=GOLD, with_predictions=True):
    for seed, predicted in enumerate(students):
        record = {
            "table": table,
            "row": row,
            "task": task,
            "seed": seed,
            "metrics": {"dev/acc": float((predicted == gold).mean())},
        }
        if with_predictions:
            record["predictions"] = {
                "dev": {"predicted": "".join(map(str, predicted)), "gold": "".join(map(str, gold))}
            }
        path = root / table / row.replace("/", "").replace(" ", "-") / task / f"seed{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record))


FULL = [flipped(60, seed) for seed in range(3)]  # 85% accurate


def test_each_row_gets_the_verdict_its_resolved_gap_gives(tmp_path):
    write_runs(tmp_path, "table2", "TinyBERT4", "sst-2", FULL)
    write_runs(tmp_path, "table2", "w/o TD", "sst-2", [flipped(140, s) for s in range(3)])
    write_runs(tmp_path, "table2", "w/o GD", "sst-2", FULL)  # the same predictions
    write_runs(tmp_path, "table2", "w/o DA", "sst-2", [GOLD] * 3)  # better than the full row
    found = {c.row: c for c in conclusions(tmp_path)}
    assert [c.row for c in conclusions(tmp_path)] == ["w/o GD", "w/o TD", "w/o DA"]  # paper order
    assert found["w/o TD"].verdict == "holds"
    assert found["w/o TD"].difference.gap == pytest.approx(-20.0)
    assert found["w/o TD"].difference.below == 3
    assert found["w/o GD"].verdict == "not resolved" and found["w/o GD"].difference.gap == 0
    assert found["w/o DA"].verdict == "reversed"
    assert conclusions(tmp_path) == list(found.values())  # seeded: the same numbers again


def test_a_gap_within_the_dev_sets_sampling_error_is_not_resolved(tmp_path):
    """A row that differs from the full student on 40 of 400 examples, 22 times wrongly and
    18 times rightly, is one point lower in every seed: consistent across seeds, but the
    paired bootstrap over dev examples puts it within its error."""
    write_runs(tmp_path, "table2", "TinyBERT4", "sst-2", FULL)
    worse = []
    for student in FULL:
        out = student.copy()
        changed = np.concatenate(
            [np.flatnonzero(out == GOLD)[:22], np.flatnonzero(out != GOLD)[:18]]
        )
        out[changed] = 1 - out[changed]
        worse.append(out)
    write_runs(tmp_path, "table2", "w/o DA", "sst-2", worse)
    (found,) = conclusions(tmp_path)
    assert found.difference.gap == pytest.approx(-1.0) and found.difference.below == 3
    assert found.difference.seed_se == 0 and found.difference.dev_se > 0.5
    assert found.verdict == "not resolved"


def test_tables_3_and_4_compare_with_table_2s_full_run_and_our_rows_have_no_paper_claim(tmp_path):
    write_runs(tmp_path, "table2", "TinyBERT4", "sst-2", FULL)
    write_runs(tmp_path, "table3", "w/o Trm", "sst-2", [flipped(140, s) for s in range(3)])
    write_runs(tmp_path, "table4", "Adaptive (ours)", "sst-2", [flipped(140, s) for s in range(3)])
    found = {c.row: c for c in conclusions(tmp_path)}
    assert found["w/o Trm"].verdict == "holds" and found["w/o Trm"].in_paper
    assert not found["Adaptive (ours)"].in_paper
    assert found["Adaptive (ours)"].verdict == "lower"
    table = conclusions_table(list(found.values()))
    assert table.loc["w/o Trm", "paper (MRPC, CoLA)"] == "-15.7, -39.6"
    assert table.loc["Adaptive (ours)", "paper (MRPC, CoLA)"] == "–"
    assert table.loc["w/o Trm", "Table"] == "3"
    assert table.loc["w/o Trm", "SST-2"].endswith("(3/3 below): holds")


def test_tasks_without_an_effect_or_without_predictions_are_not_judged(tmp_path):
    write_runs(tmp_path, "table2", "TinyBERT4", "sst-2", FULL)
    write_runs(tmp_path, "table2", "w/o TD", "sst-2", [flipped(140, s) for s in range(3)])
    majority = np.ones_like(GOLD)
    write_runs(tmp_path, "table2", "TinyBERT4", "rte", [majority] * 3)
    write_runs(tmp_path, "table2", "w/o TD", "rte", [flipped(140, s) for s in range(3)])
    write_runs(tmp_path, "table2", "TinyBERT4", "mrpc", FULL, with_predictions=False)
    write_runs(tmp_path, "table2", "w/o TD", "mrpc", FULL, with_predictions=False)
    markdown = conclusions_markdown(tmp_path)
    row = next(line for line in markdown.splitlines() if line.startswith("| w/o TD"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    header = next(line for line in markdown.splitlines() if line.startswith("| Setting"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    cell = dict(zip(columns, cells, strict=True))
    assert cell["MRPC"] == "– (no predictions)"
    assert cell["SST-2"].endswith(": holds")
    assert cell["RTE"] == "no effect: not judged"


def test_runs_paired_by_seed_must_share_the_dev_set(tmp_path):
    write_runs(tmp_path, "table2", "TinyBERT4", "sst-2", FULL)
    write_runs(tmp_path, "table2", "w/o TD", "sst-2", FULL, gold=1 - GOLD)
    with pytest.raises(ValueError, match="different dev sets"):
        conclusions(tmp_path)


def test_the_command_writes_its_readme_block(tmp_path, capsys):
    write_runs(tmp_path, "table2", "TinyBERT4", "sst-2", FULL)
    write_runs(tmp_path, "table2", "w/o TD", "sst-2", [flipped(140, s) for s in range(3)])
    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- conclusions:begin -->\nold\n<!-- conclusions:end -->\n")
    module.main([str(tmp_path), "--update", str(readme)])
    printed = capsys.readouterr().out
    assert "holds" in printed and printed.strip() in readme.read_text()
    assert readme.read_text().startswith("before\n<!-- conclusions:begin -->\n**Does each")


def test_the_n_a_study_compares_both_da_gaps_and_what_the_larger_set_adds(tmp_path):
    write_runs(tmp_path, "table2", "TinyBERT4", "sst-2", FULL)
    write_runs(tmp_path, "table2", "w/o DA", "sst-2", [flipped(140, s) for s in range(3)])
    write_runs(tmp_path, "augmentation-size", "N_a x4", "sst-2", FULL)
    found = {c.row: c for c in augmentation_size(tmp_path)}
    assert list(found) == ["TinyBERT4 − w/o DA", "N_a x4 − w/o DA", "N_a x4 − TinyBERT4"]
    assert found["TinyBERT4 − w/o DA"].verdict == "higher"
    assert found["N_a x4 − w/o DA"].difference == found["TinyBERT4 − w/o DA"].difference
    assert found["N_a x4 − TinyBERT4"].verdict == "not resolved"
    assert [c.row for c in conclusions(tmp_path)] == ["w/o DA"]  # the study is not a paper row
    markdown = conclusions_markdown(tmp_path)
    assert "| N_a x4 − TinyBERT4 | +0.0 ± 0.0 (0/3 below): not resolved |" in markdown


def test_one_seed_is_not_judged_however_large_its_gap(tmp_path):
    """One seed has no seeds' error: the dev set's error alone would call a 20-point gap
    resolved, and a single lucky seed decisive."""
    write_runs(tmp_path, "table2", "TinyBERT4", "sst-2", FULL[:1])
    write_runs(tmp_path, "table2", "w/o TD", "sst-2", [flipped(140, 0)])
    (found,) = conclusions(tmp_path)
    assert found.difference.gap == pytest.approx(-20.0) and found.difference.direction == 0
    assert found.verdict == "one seed: not judged"
    assert conclusions_table([found]).loc["w/o TD", "SST-2"] == (
        "-20.0 (1/1 below): one seed: not judged"
    )


def test_each_reason_for_no_comparison_is_named(tmp_path):
    write_runs(tmp_path, "table2", "TinyBERT4", "sst-2", FULL[:1])  # seed 0 only
    students = [flipped(140, s) for s in range(3)]
    write_runs(tmp_path, "table2", "w/o TD", "sst-2", students)
    (tmp_path / "table2" / "wo-TD" / "sst-2" / "seed0.json").unlink()  # seeds 1 and 2 only
    write_runs(tmp_path, "table2", "w/o TD", "mrpc", students)  # no full run on MRPC
    write_runs(tmp_path, "table2", "TinyBERT4", "rte", FULL, with_predictions=False)
    write_runs(tmp_path, "table2", "w/o TD", "rte", students)
    verdicts = {c.task: c.verdict for c in conclusions(tmp_path)}
    assert verdicts == {
        "mrpc": "no full run",
        "sst-2": "no seed run by both",
        "rte": "no predictions",
    }


def test_a_seed_recorded_twice_is_an_error(tmp_path):
    write_runs(tmp_path / "cpu", "table2", "TinyBERT4", "sst-2", FULL)
    write_runs(tmp_path / "cpu-faithful", "table2", "TinyBERT4", "sst-2", FULL)
    with pytest.raises(ValueError, match="seed 0 twice"):
        conclusions(tmp_path)


def test_every_paper_row_scores_below_its_full_procedure_on_average():
    """What "holds" means: the verdict reads a resolved gap below the full procedure as
    the paper's conclusion, which is right only while every paper row is below on Avg."""
    for paper in PAPER_REFERENCE.values():
        first, *rows = paper.values()
        assert all(row[-1] < first[-1] for row in rows)
