"""What a profile's runs cost: task-distillation core-minutes per seed and task, and the
wall time of the shared pieces, read from the result files the runner wrote.

    python -m analysis.cost results/cpu [--update README.md]

Why a module: the README's cost figures must come from a command, like its tables. A task
run's time is its ``train_seconds`` (every process that trained it, resumed runs counted
in full; ``wall_time_s`` for records without it); each run trains on one core. Table 3's
TinyBERT4 and Table 4's Uniform rows are Table 2's run, stored once, so counted once. A
shared piece (teachers, augmentation, general distillation: their records in
:class:`distill.experiments.layout.ResultsLayout`) records only ``wall_time_s`` of the
process that finished it: a resumed piece counts from its last start.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.tables import (
    TASK_LABELS,
    add_update_option,
    load_results,
    to_markdown,
    update_or_exit,
)
from distill.experiments.layout import ResultsLayout

ALL = "all"


def task_minutes(results: pd.DataFrame) -> pd.DataFrame:
    """Core-minutes of task distillation, seeds down and tasks across, with ``all`` totals.

    ``results`` is :func:`analysis.tables.load_results` output (one row per metric, so
    one run appears once per metric and is counted once here).
    """
    runs = results.drop_duplicates("path")
    seconds = runs["train_seconds"].fillna(runs["wall_time_s"])
    minutes = runs.assign(minutes=seconds / 60).pivot_table(
        index="seed", columns="task", values="minutes", aggfunc="sum", margins=True,
        margins_name=ALL,
    )  # fmt: skip
    tasks = [task for task in TASK_LABELS if task in minutes.columns]
    others = [task for task in minutes.columns if task not in TASK_LABELS and task != ALL]
    return minutes[[*tasks, *others, ALL]].round(1).rename(columns=TASK_LABELS)


def shared_minutes(results_root: str | Path) -> pd.Series:
    """Wall minutes of each shared piece's finishing process, e.g. ``teacher mrpc``."""
    layout = ResultsLayout(Path(results_root))
    pieces = {}
    for kind, records in (
        ("teacher", layout.teacher_records()),
        ("augmentation", layout.augment_records()),
    ):
        for path in records:
            pieces[f"{kind} {path.stem}"] = _wall_minutes(path)
    for path in layout.general_records():
        start = path.stem.removeprefix("general").replace("-", " ").strip()
        pieces["general distillation" + (f" ({start})" if start else "")] = _wall_minutes(path)
    return pd.Series(pieces, name="minutes", dtype=float)


def _wall_minutes(path: Path) -> float:
    record = json.loads(path.read_text(encoding="utf-8"))
    if "wall_time_s" not in record:
        raise ValueError(f"{path} lacks 'wall_time_s'")
    return round(record["wall_time_s"] / 60, 1)


def cost_markdown(results_root: str | Path) -> str:
    """Both cost tables with their totals, as Markdown."""
    results = load_results(results_root)
    runs = task_minutes(results)
    shared = shared_minutes(results_root)
    run_count = results["path"].nunique()
    shared_table = shared.rename_axis("shared piece").to_frame()
    return (
        "Task distillation, core-minutes (one core per run):\n\n"
        f"{to_markdown(runs.rename_axis(index='seed', columns=None))}\n"
        f"_{run_count} runs, {runs.loc[ALL, ALL] / 60:.2f} core-hours._\n\n"
        "Shared pieces, wall minutes of the process that finished each (a resumed piece "
        "counts from its last start):\n\n"
        f"{to_markdown(shared_table)}\n"
        f"_{shared.sum() / 60:.2f} hours._\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m analysis.cost RESULTS``: print what the runs under RESULTS cost."""
    parser = argparse.ArgumentParser(prog="python -m analysis.cost", description=main.__doc__)
    parser.add_argument("results", type=Path, help="e.g. results/cpu")
    add_update_option(parser, "the tables between <!-- cost:begin --> and <!-- cost:end -->")
    args = parser.parse_args(argv)
    markdown = cost_markdown(args.results)
    print(markdown)
    update_or_exit(parser, args.update, {"cost": markdown})


if __name__ == "__main__":
    main()
