"""Loading run results, seed aggregation and the rendered comparison tables."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from analysis.tables import (  # noqa: E402
    aggregate,
    comparison_table,
    load_results,
    main,
    ours_table,
    paper_table,
    table_figure,
    to_markdown,
    write_tables,
)

RUNS = [
    # (table, row, directory, task, seed, metrics)
    ("table2", "TinyBERT4", "tinybert4", "mrpc", 0, {"f1": 0.80, "acc": 0.70}),
    ("table2", "TinyBERT4", "tinybert4", "mrpc", 1, {"f1": 0.90, "acc": 0.80}),
    ("table2", "TinyBERT4", "tinybert4", "cola", 0, {"mcc": 0.30}),
    ("table2", "TinyBERT4", "tinybert4", "cola", 1, {"mcc": 0.40}),
    ("table2", "w/o GD", "wo_gd", "mrpc", 0, {"dev/f1": 0.75, "dev/acc": 0.70}),
    ("table4", "top", "top", "SST-2", 0, {"acc": 0.88}),
]


@pytest.fixture
def results_root(tmp_path):
    for table, row, directory, task, seed, metrics in RUNS:
        path = tmp_path / table / directory / task / f"seed{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        run = {"table": table, "row": row, "task": task, "seed": seed, "metrics": metrics,
               "config": {"lr": 5e-5}, "commit": "abc123", "wall_time_s": 12.5}  # fmt: skip
        path.write_text(json.dumps(run))
    return tmp_path


def test_load_results_one_row_per_metric(results_root):
    results = load_results(results_root)
    assert len(results) == sum(len(run[-1]) for run in RUNS)
    assert set(results["row"]) == {"TinyBERT4", "w/o GD", "top"}
    assert set(results["task"]) == {"mrpc", "cola", "sst2"}
    assert set(results["split"]) == {"dev"}
    assert set(results["metric"]) == {"f1", "acc", "mcc"}


def test_load_results_rejects_incomplete_files(tmp_path):
    (tmp_path / "seed0.json").write_text(json.dumps({"table": "table2", "row": "x"}))
    with pytest.raises(ValueError, match="lacks"):
        load_results(tmp_path)


def test_aggregate_mean_std_and_count(results_root):
    keys = ["table", "row", "task", "split", "metric"]
    aggregated = aggregate(load_results(results_root)).set_index(keys)
    f1 = aggregated.loc[("table2", "TinyBERT4", "mrpc", "dev", "f1")]
    assert f1["mean"] == pytest.approx(0.85)
    assert f1["std"] == pytest.approx(np.std([0.80, 0.90], ddof=1))
    assert f1["n"] == 2
    assert np.isnan(aggregated.loc[("table2", "w/o GD", "mrpc", "dev", "f1"), "std"])


def test_ours_table_uses_primary_metrics_x100_in_paper_row_order(results_root):
    ours = ours_table(aggregate(load_results(results_root)), "table2")
    assert list(ours.index) == ["TinyBERT4", "w/o GD", "w/o TD", "w/o DA"]
    assert ours.loc["TinyBERT4", ("MRPC", "mean")] == pytest.approx(85.0)
    assert ours.loc["TinyBERT4", ("CoLA", "mean")] == pytest.approx(35.0)
    assert ours.loc["TinyBERT4", ("Avg", "mean")] == pytest.approx(60.0)
    assert np.isnan(ours.loc["w/o GD", ("Avg", "mean")])  # CoLA missing: no average


def test_comparison_table_places_paper_values_beside_ours(results_root):
    display = comparison_table(aggregate(load_results(results_root)), "table2")
    assert list(display.columns) == [
        "MNLI-m (paper)", "MNLI-mm (paper)", "MRPC (paper)", "CoLA (paper)", "Avg (paper)",
        "MRPC (ours)", "CoLA (ours)", "Avg (ours)", "seeds",
    ]  # fmt: skip
    assert display.loc["TinyBERT4", "MRPC (paper)"] == "85.8"
    assert display.loc["TinyBERT4", "MRPC (ours)"] == "85.0 ± 7.1"
    assert display.loc["w/o GD", "MRPC (ours)"] == "75.0"
    assert display.loc["w/o DA", "MRPC (ours)"] == "–"
    assert display.loc["TinyBERT4", "seeds"] == "2"
    assert display.loc["w/o GD", "seeds"] == "1"


def test_row_names_match_the_paper_case_insensitively(results_root):
    display = comparison_table(aggregate(load_results(results_root)), "table4")
    assert list(display.index) == ["Uniform", "Top", "Bottom"]
    assert display.loc["Top", "SST-2 (ours)"] == "88.0"


def test_full_model_row_is_shared_with_tables_3_and_4(results_root):
    aggregated = aggregate(load_results(results_root))
    assert comparison_table(aggregated, "table4").loc["Uniform", "MRPC (ours)"] == "85.0 ± 7.1"
    table3 = comparison_table(aggregated, "table3")
    assert len(table3) == len(paper_table("table3")) == 6
    assert table3.loc["TinyBERT4", "CoLA (ours)"] == "35.0 ± 7.1"
    assert table3.loc["w/o Trm", "CoLA (paper)"] == "11.2"
    assert (table3.loc["w/o Embd":, "Avg (ours)"] == "–").all()


def test_table_without_runs_shows_the_paper_only(tmp_path):
    display = comparison_table(aggregate(load_results(tmp_path)), "table2")
    assert list(display.columns) == [
        "MNLI-m (paper)", "MNLI-mm (paper)", "MRPC (paper)", "CoLA (paper)", "Avg (paper)",
        "Avg (ours)", "seeds",
    ]  # fmt: skip
    assert (display["Avg (ours)"] == "–").all()


def test_markdown_rendering():
    display = paper_table("table4").iloc[:, :2]
    display.index.name = "Mapping"
    lines = to_markdown(display).splitlines()
    assert lines[0] == "| Mapping | MNLI-m | MNLI-mm |"
    assert lines[1] == "| --- | --- | --- |"
    assert lines[2] == "| Uniform | 82.8 | 82.9 |"


def test_figures_and_files(results_root, tmp_path):
    display = comparison_table(aggregate(load_results(results_root)), "table2")
    assert len(table_figure(display, "Table 2").axes) == 1
    written = write_tables(results_root, tmp_path / "out")
    assert sorted(path.name for path in written) == [
        "table2.md", "table2.png", "table3.md", "table3.png", "table4.md", "table4.png"
    ]  # fmt: skip
    assert all(path.stat().st_size > 0 for path in written)


def test_command_line_writes_and_prints_the_tables(results_root, tmp_path, capsys):
    main([str(results_root), str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert printed.count("| Setting |") == 3 and "Table 4: layer mapping strategies" in printed
    assert (tmp_path / "out" / "table2.png").is_file()
