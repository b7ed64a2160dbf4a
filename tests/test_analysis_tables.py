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
    gap_table,
    load_results,
    main,
    mapping_table,
    ours_table,
    paired_gaps,
    paper_table,
    table_figure,
    to_markdown,
    update_markdown,
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


def write_runs(root, runs):
    for table, row, directory, task, seed, metrics in runs:
        path = root / table / directory / task / f"seed{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        run = {"table": table, "row": row, "task": task, "seed": seed, "metrics": metrics,
               "config": {"lr": 5e-5}, "commit": "abc123", "wall_time_s": 12.5}  # fmt: skip
        path.write_text(json.dumps(run))
    return root


@pytest.fixture
def results_root(tmp_path):
    return write_runs(tmp_path, RUNS)


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
        "majority.md", "table2.md", "table2.png", "table3.md", "table3.png", "table4.md",
        "table4.png",
    ]  # fmt: skip
    assert all(path.stat().st_size > 0 for path in written)


def test_command_line_writes_and_prints_the_tables(results_root, tmp_path, capsys):
    main([str(results_root), str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert printed.count("| Setting | MNLI-m (paper)") == 3
    assert "Table 4: layer mapping strategies" in printed
    # gaps where a table has a row besides its first: Table 2 (w/o GD) and Table 4 (top)
    assert printed.count("on the same seed") == 2
    assert (tmp_path / "out" / "table2.png").is_file()


PAIRED_RUNS = [
    ("table2", "TinyBERT4", "full", "mrpc", 0, {"f1": 0.80}),
    ("table2", "TinyBERT4", "full", "mrpc", 1, {"f1": 0.90}),
    ("table2", "TinyBERT4", "full", "mrpc", 2, {"f1": 0.85}),
    ("table2", "w/o GD", "no-gd", "mrpc", 0, {"f1": 0.78}),
    ("table2", "w/o GD", "no-gd", "mrpc", 1, {"f1": 0.86}),
    ("table2", "w/o GD", "no-gd", "mrpc", 2, {"f1": 0.86}),
    ("table2", "w/o GD", "no-gd", "mrpc", 3, {"f1": 0.10}),  # no TinyBERT4 run to pair with
    ("table2", "w/o DA", "no-da", "mrpc", 1, {"f1": 0.95}),
    ("table3", "w/o Embd", "no-embd", "mrpc", 2, {"f1": 0.84}),
]


def test_paired_gaps_subtract_the_first_row_seed_by_seed(tmp_path):
    gaps = paired_gaps(load_results(write_runs(tmp_path, PAIRED_RUNS)), "table2")["MRPC"]
    assert list(gaps.index) == ["w/o GD", "w/o DA"]
    # w/o GD: gaps -2, -4, +1 on seeds 0-2 (seed 3 has no partner); the rows' own stds are
    # 5.0 and 4.6, the paired gaps' 2.5
    assert gaps.loc["w/o GD", "mean"] == pytest.approx(-5 / 3)
    assert gaps.loc["w/o GD", "std"] == pytest.approx(np.sqrt(19 / 3))
    assert gaps.loc["w/o GD", ["n", "below"]].tolist() == [3, 2]
    assert gaps.loc["w/o DA", "mean"] == pytest.approx(5.0)
    assert np.isnan(gaps.loc["w/o DA", "std"])
    assert gaps.loc["w/o DA", ["n", "below"]].tolist() == [1, 0]


def test_gap_table_shows_the_papers_gaps_beside_ours(tmp_path):
    results = load_results(write_runs(tmp_path, PAIRED_RUNS))
    table2 = gap_table(results, "table2")
    assert list(table2.columns) == ["MRPC (paper)", "MRPC (ours)"]
    assert table2.loc["w/o GD"].tolist() == ["-1.7", "-1.7 ± 2.5 (2/3 below)"]
    assert table2.loc["w/o DA"].tolist() == ["-3.4", "+5.0 (0/1 below)"]
    # Table 3's first row is Table 2's TinyBERT4 run
    assert gap_table(results, "table3").loc["w/o Embd", "MRPC (ours)"] == "-1.0 (1/1 below)"


def test_no_gaps_without_the_first_row(tmp_path):
    runs = [("table2", "w/o GD", "no-gd", "mrpc", 0, {"f1": 0.78})]
    results = load_results(write_runs(tmp_path, runs))
    assert gap_table(results, "table2").empty
    write_tables(tmp_path, tmp_path / "out")
    assert "on the same seed" not in (tmp_path / "out" / "table2.md").read_text()


def test_update_markdown_replaces_only_the_marked_blocks(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- t2:begin -->\nold\n<!-- t2:end -->\noutro\n")
    update_markdown(readme, {"t2": "| new |\n"})
    assert readme.read_text() == "intro\n<!-- t2:begin -->\n| new |\n<!-- t2:end -->\noutro\n"


def test_update_markdown_refuses_a_missing_block_and_leaves_the_file(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- t2:begin -->\nold\n<!-- t2:end -->\n")
    with pytest.raises(ValueError, match="README.md: expected one '<!-- t3:begin -->'"):
        update_markdown(readme, {"t2": "new", "t3": "new"})
    assert readme.read_text() == "<!-- t2:begin -->\nold\n<!-- t2:end -->\n"


def test_command_line_updates_a_readme(results_root, tmp_path, capsys):
    readme = tmp_path / "README.md"
    blocks = ("table2", "table3", "table4", "majority")
    readme.write_text("".join(f"<!-- {name}:begin -->\n<!-- {name}:end -->\n" for name in blocks))
    main([str(results_root), str(tmp_path / "out"), "--update", str(readme)])
    assert readme.read_text().count("| Setting | MNLI-m (paper)") == 3
    assert "| Task | TinyBERT4 | majority class" in readme.read_text()
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit) as exit_info:
        main([str(results_root), str(tmp_path / "out"), "--update", str(readme)])
    assert exit_info.value.code == 1 and ":begin -->' ... '<!-- " in capsys.readouterr().err


def test_the_n_a_study_pairs_each_seed_with_table_2s_runs(tmp_path):
    """Issue 15's N_a study: the DA gap at the profile's N_a and at four times it, per seed."""
    runs = [
        ("table2", "TinyBERT4", "full", "mrpc", 0, {"dev/f1": 0.80}),
        ("table2", "TinyBERT4", "full", "mrpc", 1, {"dev/f1": 0.82}),
        ("table2", "w/o DA", "no-da", "mrpc", 0, {"dev/f1": 0.78}),
        ("table2", "w/o DA", "no-da", "mrpc", 1, {"dev/f1": 0.79}),
        ("augmentation-size", "N_a x4", "da-n_a-x4", "mrpc", 0, {"dev/f1": 0.85}),
        ("augmentation-size", "N_a x4", "da-n_a-x4", "mrpc", 1, {"dev/f1": 0.81}),
    ]
    root = write_runs(tmp_path / "results", runs)
    from analysis.tables import augmentation_size_gaps

    study = augmentation_size_gaps(load_results(root))
    assert list(study.index) == ["TinyBERT4 − w/o DA", "N_a x4 − w/o DA", "N_a x4 − TinyBERT4"]
    assert list(study["MRPC"]) == ["+2.5 ± 0.7 (0/2 below)", "+4.5 ± 3.5 (0/2 below)",
                                   "+2.0 ± 4.2 (1/2 below)"]  # fmt: skip
    written = write_tables(root, tmp_path / "out", formats=())
    assert (tmp_path / "out" / "augmentation-size.md") in written
    assert augmentation_size_gaps(load_results(write_runs(tmp_path / "none", runs[:4]))).empty


def test_mapping_table_names_the_fixed_row_an_adaptive_run_repeats(tmp_path):
    mappings = {
        ("table2", "mrpc", 0): [0, 2, 4, 6],
        ("table4", "mrpc", 0): [0, 1, 2, 3],
        ("table4", "mrpc", 1): [0, 1, 2, 3],
        ("table4", "cola", 0): [0, 2, 3, 4],
        ("table4", "cola", 1): [0, 1, 2, 4],
    }
    runs = [
        ("table2", "TinyBERT4", "full", "mrpc", 0, {"f1": 0.8}),
        ("table4", "Bottom", "bottom", "mrpc", 0, {"f1": 0.7}),
        ("table4", "Adaptive (ours)", "adaptive", "mrpc", 1, {"f1": 0.7}),
        ("table4", "Adaptive (ours)", "adaptive", "cola", 0, {"mcc": 0.2}),
        ("table4", "Adaptive (ours)", "adaptive", "cola", 1, {"mcc": 0.2}),
    ]
    write_runs(tmp_path, runs)
    for (table, task, seed), mapping in mappings.items():
        for path in (tmp_path / table).glob(f"*/{task}/seed{seed}.json"):
            path.write_text(json.dumps({**json.loads(path.read_text()), "mapping": mapping}))
    table = mapping_table(load_results(tmp_path))
    assert table.to_dict(orient="index") == {
        "Uniform": {"MRPC": "0 2 4 6", "CoLA": "–"},
        "Bottom": {"MRPC": "0 1 2 3", "CoLA": "–"},
        "Adaptive (ours)": {
            "MRPC": "0 1 2 3 (= Bottom)",
            "CoLA": "0 2 3 4 (seed 0), 0 1 2 4 (seed 1)",
        },
    }
    write_tables(tmp_path, tmp_path / "out")
    assert "0 1 2 3 (= Bottom)" in (tmp_path / "out" / "table4.md").read_text()


def test_no_mapping_table_when_the_records_do_not_say(results_root):
    assert mapping_table(load_results(results_root)).empty
