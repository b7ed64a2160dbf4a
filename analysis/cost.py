"""What a profile's runs cost: task-distillation core-minutes per seed and task and per
table row, the wall time of the shared pieces, and core-seconds per 1,000 training
examples of each stage, read from the result files the runner wrote.

    python -m analysis.cost results/cpu [--update README.md]

Why a module: the README's cost figures must come from a command, like its tables. A task
run's time is its ``train_seconds`` (every process that trained it, resumed runs counted
in full; ``wall_time_s`` for records without it); each run trains on one core. Table 3's
TinyBERT4 and Table 4's Uniform rows are Table 2's run, stored once, so counted once. A
shared piece (teachers, augmentation, general distillation: their records in
:class:`distill.experiments.layout.ResultsLayout`) records only ``wall_time_s`` of the
process that finished it: a resumed piece counts from its last start.

Per 1,000 examples: grids with different epochs or data sizes compare only per example.
Each stage's examples are its training set's size times its epochs (example passes), as
a run record's ``settings`` state them or, for older records, as their commands and the
augmentation records' line counts give them; a task run records one time for both its
stages, so the two rates are fitted to all the task's runs (:func:`seconds_per_1000_examples`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from analysis.tables import (
    MISSING,
    TASK_LABELS,
    add_update_option,
    load_results,
    task_key,
    to_markdown,
    update_or_exit,
)
from distill.experiments.ablations import EXPERIMENTS, ROWS
from distill.experiments.layout import ResultsLayout, RunRecord, augment_name
from distill.glue import get_task
from distill.stages import FinetuneSpec, GeneralSpec, spec_fields

ALL = "all"
TEACHER, GENERAL, STAGE1, STAGE2 = (
    "teacher fine-tuning", "general distillation", "task stage 1", "task stage 2"
)  # fmt: skip
STAGES = (TEACHER, GENERAL, STAGE1, STAGE2)


def task_minutes(results: pd.DataFrame) -> pd.DataFrame:
    """Core-minutes of task distillation, seeds down and tasks across, with ``all`` totals.

    ``results`` is :func:`analysis.tables.load_results` output (one row per metric, so
    one run appears once per metric and is counted once here).
    """
    runs = _run_minutes(results).sort_values("seed", kind="stable")
    return _by_task(runs, "seed")


def row_minutes(results: pd.DataFrame) -> pd.DataFrame:
    """Core-minutes of task distillation per table row (summed over seeds), rows down in
    the tables' order (the paper's rows, then ours and the studies') and tasks across,
    with ``all`` totals: what each row, and a study such as the N_a one, costs beside the
    full procedure."""
    runs = _run_minutes(results)
    order = {(table, e.label.casefold()): i for i, (table, e) in enumerate(_ROWS_IN_ORDER)}
    position = [
        order.get((table, row.casefold()), len(order))
        for table, row in zip(runs["table"], runs["row"], strict=True)
    ]
    runs = runs.assign(position=position).sort_values(["position", "table", "row"], kind="stable")
    return _by_task(runs.assign(setting=runs["table"] + " · " + runs["row"]), "setting")


_ROWS_IN_ORDER = [(table, experiment) for table, rows in ROWS.items() for experiment in rows]


def _run_minutes(results: pd.DataFrame) -> pd.DataFrame:
    """One line per run with its core-minutes (``train_seconds``; ``wall_time_s`` for
    records made before it was kept)."""
    runs = results.drop_duplicates("path")
    return runs.assign(minutes=runs["train_seconds"].fillna(runs["wall_time_s"]) / 60)


def _by_task(runs: pd.DataFrame, index: str) -> pd.DataFrame:
    """Minutes summed per ``index`` value (in the order of ``runs``) and task, our task
    columns first, with ``all`` totals; rounded to 0.1."""
    table = runs.pivot_table(
        index=index, columns="task", values="minutes", aggfunc="sum", sort=False,
        margins=True, margins_name=ALL,
    )  # fmt: skip
    tasks = [task for task in TASK_LABELS if task in table.columns]
    others = [task for task in table.columns if task not in TASK_LABELS and task != ALL]
    return table[[*tasks, *others, ALL]].round(1).rename(columns=TASK_LABELS)


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


def seconds_per_1000_examples(runs: pd.DataFrame) -> pd.DataFrame:
    """Core-seconds per 1,000 training examples of each stage, stages down, tasks across
    plus ``all`` (every task's runs together).

    ``runs`` has one row per run: ``task`` (``None`` for general distillation, which only
    ``all`` counts), ``seconds`` (core-seconds; one core per run)
    and, for each stage in :data:`STAGES`, the examples the run trained on in that stage
    (size of its training set times its epochs; 0 or absent = not run). The rates solve
    ``seconds = sum over stages of rate * examples`` for all runs of a task by non-negative
    least squares, each run divided by its total examples so that long and short runs
    weigh alike; a stage that only single-stage runs train (fine-tuning, general
    distillation) gets their mean rate. A stage no run of a task trains is missing (NaN).
    """
    runs = runs.reindex(columns=["task", "seconds", *STAGES])
    runs[list(STAGES)] = runs[list(STAGES)].fillna(0)
    groups = dict(list(runs.groupby("task")))
    order = [task for task in TASK_LABELS if task in groups]
    groups = {task: groups[task] for task in [*order, *sorted(set(groups) - set(order))]}
    groups[ALL] = runs
    table = {}
    for task, group in groups.items():
        examples = group[list(STAGES)].to_numpy(dtype=float)
        trained = examples.sum(axis=0) > 0
        totals = examples.sum(axis=1, keepdims=True)
        rates, _ = nnls(examples[:, trained] / totals, group["seconds"].to_numpy() / totals[:, 0])
        column = np.full(len(STAGES), np.nan)
        column[trained] = rates * 1000
        table[task] = column
    frame = pd.DataFrame(table, index=list(STAGES)).rename_axis("stage").round(1)
    return frame.rename(columns=TASK_LABELS)


def stage_examples(results_root: str | Path) -> pd.DataFrame:
    """The runs under ``results_root`` as :func:`seconds_per_1000_examples` reads them.

    A task run's examples per epoch and epochs: its record's ``settings``
    (``stage1_examples``, ``stage1_epochs``, ``stage2_examples``, ``stage2_epochs``) or,
    for records older than those, :func:`_examples_from_command`. Fine-tuning: the
    training set's size (its augmentation record's ``input_lines``, less a header line
    where the task has one) times the command's epochs, for every candidate a teacher
    record lists. General distillation: its final step times its batch size -- all its
    steps, although a resumed piece records only its last process's time, so its rate is
    then too low.
    """
    layout = ResultsLayout(Path(results_root))
    sizes = {path.stem: _sizes(path) for path in layout.augment_records()}
    rows = [_task_run(path, sizes) for path in layout.run_records()]
    for path in layout.teacher_records():
        record = json.loads(path.read_text(encoding="utf-8"))
        original, _ = _known(sizes, path.stem, path)
        for candidate in record.get("candidates", [record]):  # every candidate was trained
            epochs = _setting(candidate["command"], FinetuneSpec, "epochs")
            seconds = candidate.get("train_seconds") or candidate["wall_time_s"]
            rows.append({"task": task_key(record["task"]), "seconds": seconds,
                         TEACHER: original * epochs})  # fmt: skip
    for path in layout.general_records():
        record = json.loads(path.read_text(encoding="utf-8"))
        batch = _setting(record["command"], GeneralSpec, "batch_size")
        seconds = record.get("train_seconds") or record["wall_time_s"]
        rows.append({"task": None, "seconds": seconds,
                     GENERAL: record["final_log"]["step"] * batch})  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=["task", "seconds", *STAGES], fill_value=0)


def _task_run(path: Path, sizes: dict[str, tuple[int, int]]) -> dict:
    record = json.loads(path.read_text(encoding="utf-8"))
    settings = record.get("settings")
    if settings and "stage2_examples" in settings:
        stage1 = (settings["stage1_examples"] or 0) * (settings["stage1_epochs"] or 0)
        stage2 = settings["stage2_examples"] * settings["stage2_epochs"]
    else:
        stage1, stage2 = _examples_from_command(record, sizes, path)
    return {
        "task": task_key(record["task"]),
        "seconds": record.get("train_seconds") or record["wall_time_s"],
        STAGE1: stage1,
        STAGE2: stage2,
    }


def _examples_from_command(
    record: dict, sizes: dict[str, tuple[int, int]], path: Path
) -> tuple[float, float]:
    """Stage 1 and 2 examples of an older record, from its command (``--experiment``,
    ``--without``, ``--no-intermediate``, ``--augmented-train``, ``--stage1-epochs``,
    ``--stage2-epochs``) and the augmentation record's sizes: stage 2 trains on the
    augmented set only when the prediction loss is on and the task is a classification, as
    ``python -m distill task`` does."""
    command = record["command"]
    experiment = EXPERIMENTS[_flag(command, "--experiment") or "full"]
    without = set(experiment.without) | set(_flags(command, "--without"))
    name = augment_name(record["task"], experiment.n_a_scale)
    original, augmented = _known(sizes, name, path)
    augmentation = "--augmented-train" in command and "--no-augmentation" not in command
    train = augmented if augmentation and experiment.augmentation else original
    intermediate = experiment.intermediate and "--no-intermediate" not in command
    stage1 = intermediate and bool({"embd", "attn", "hidn"} - without - _trm(without))
    fit_teacher = "pred" not in without and get_task(record["task"]).labels is not None
    epochs1 = _number(command, "--stage1-epochs", path) if stage1 else 0
    epochs2 = _number(command, "--stage2-epochs", path)
    return train * epochs1, (train if fit_teacher else original) * epochs2


def _sizes(path: Path) -> tuple[int, int]:
    """(training set, augmented set) examples of an augmentation record."""
    record = json.loads(path.read_text(encoding="utf-8"))
    header = get_task(record["task"]).has_header
    return record["input_lines"] - header, record["output_lines"]


def _known(sizes: dict[str, tuple[int, int]], name: str, path: Path) -> tuple[int, int]:
    if name not in sizes:
        raise ValueError(f"{path}: no augment/{name}.json to count its training examples")
    return sizes[name]


def _trm(without: set[str]) -> set[str]:
    return {"attn", "hidn"} if "trm" in without else set()


def _flags(command: list[str], name: str) -> list[str]:
    return [value for flag, value in zip(command, command[1:], strict=False) if flag == name]


def _flag(command: list[str], name: str) -> str | None:
    values = _flags(command, name)
    return values[-1] if values else None


def _number(command: list[str], name: str, path: Path) -> float:
    value = _flag(command, name)
    if value is None:
        raise ValueError(f"{path}: the recorded command lacks {name}")
    return float(value)


def _setting(command: list[str], spec_type: type, name: str) -> float:
    """Setting ``name`` of a recorded command: its flag, or else the default of
    ``spec_type``, since the runner records only the flags that differ from the defaults
    (:func:`distill.stages.to_argv`)."""
    value = _flag(command, "--" + name.replace("_", "-"))
    return float(spec_fields(spec_type)[name].default if value is None else value)


def teacher_cache_peak_gb(results_root: str | Path) -> float | None:
    """The teacher cache's largest size on disk at the end of a run (GB), as the run records
    state it; ``None`` for grids made before it was recorded. The cache never shrinks while
    runs use it (``--teacher-cache-max-gb`` stops its growth), so this is its peak."""
    sizes = [
        record.teacher_cache_bytes
        for path in Path(results_root).rglob("seed*.json")
        if (record := RunRecord.read(path)).teacher_cache_bytes is not None
    ]
    return max(sizes) / 1e9 if sizes else None


def cost_markdown(results_root: str | Path) -> str:
    """Both cost tables with their totals, as Markdown."""
    results = load_results(results_root)
    runs = task_minutes(results)
    shared = shared_minutes(results_root)
    run_count = results["path"].nunique()
    shared_table = shared.rename_axis("shared piece").to_frame()
    per_example = seconds_per_1000_examples(stage_examples(results_root))
    cache_peak = teacher_cache_peak_gb(results_root)
    cache_line = (
        ""
        if cache_peak is None
        else f"_Teacher cache: at most {cache_peak:.1f} GB on disk at the end of a run._\n\n"
    )
    return (
        "Task distillation, core-minutes (one core per run):\n\n"
        f"{to_markdown(runs.rename_axis(index='seed', columns=None))}\n"
        f"_{run_count} runs, {runs.loc[ALL, ALL] / 60:.2f} core-hours._\n\n"
        "The same per table row, summed over seeds:\n\n"
        f"{to_markdown(_filled(row_minutes(results)).rename_axis(index='row', columns=None))}\n"
        f"{cache_line}"
        "Shared pieces, wall minutes of the process that finished each (a resumed piece "
        "counts from its last start):\n\n"
        f"{to_markdown(shared_table)}\n"
        f"_{shared.sum() / 60:.2f} hours._\n\n"
        "Core-seconds per 1,000 training examples (example passes: set size times epochs; "
        "task stages fitted to the task's runs, `analysis.cost.seconds_per_1000_examples`; "
        "a teacher or general distillation recorded without `train_seconds`, as in grids "
        "made before it was recorded, counts only its finishing process, so its figure is "
        "a lower bound when it was resumed):\n\n"
        f"{to_markdown(_filled(per_example))}\n"
    )


def _filled(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its empty cells shown as the tables show them."""
    return frame.astype(object).where(frame.notna(), MISSING)


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
