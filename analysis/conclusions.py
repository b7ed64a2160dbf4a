"""Which of the paper's conclusions hold at this scale, row by row and task by task.

Every variant row of the paper's Tables 2-4 scores below the full procedure (TinyBERT4;
Table 4's Uniform) on average, and the paper reads each such gap as "this part of the
procedure helps". Here each row is compared with the full procedure on each of our tasks,
paired by seed and by dev example (:mod:`analysis.paired`), and given a verdict:

* **holds**: the row is below the full procedure by more than two standard errors;
* **reversed**: it is above by more than two standard errors;
* **not resolved**: the gap is within two standard errors, whatever its sign.

A row that is not the paper's (Table 4's adaptive mapping) has no paper conclusion to
check: its verdict says only whether it is resolved lower or higher. A task whose full
student shows no effect (:mod:`analysis.majority`) is not judged; a single seed, a run that
kept no predictions and a row without a full run to pair with give no verdict, each saying
why. The N_a study (``augmentation-size``) is compared the same
way: the DA gap at the profile's N_a and at four times it. ``python -m analysis.conclusions
results/cpu`` prints the tables; ``--update README.md`` writes them between ``<!--
conclusions:begin -->`` and ``<!-- conclusions:end -->``.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.majority import excluded_tasks, majority_tests
from analysis.paired import STANDARD_ERRORS, PairedGap, paired_gap, shared_dev_set
from analysis.tables import (
    MISSING,
    PAPER_COLUMNS,
    PAPER_REFERENCE,
    TASK_LABELS,
    add_update_option,
    column_position,
    paper_row_label,
    task_key,
    to_markdown,
    update_or_exit,
)
from distill.experiments.ablations import AUGMENTATION_SIZE, FULL_RUN, STUDIES
from distill.experiments.layout import RunRecord
from distill.glue import TASKS

README_BLOCK = "conclusions"
PAPER_TASKS = [column for column in PAPER_COLUMNS if column in TASK_LABELS.values()]
NOTE = (
    "Row minus the full procedure on the same seeds (x100, mean over seeds ± its standard "
    "error: a paired bootstrap over dev examples and the seeds' error, in quadrature; in how "
    f"many seeds the row scored below). **holds**: below by more than {STANDARD_ERRORS:g} SE, "
    f"as in the paper; **reversed**: above by more than {STANDARD_ERRORS:g} SE; **not "
    f"resolved**: within; one seed is not judged. Paper: the row's gap on "
    f"{' and '.join(PAPER_TASKS)} in the paper's table (`analysis.conclusions`)."
)
STUDY_NOTE = (
    "Paired by seed and dev example as above; **higher** or **lower**: more than "
    f"{STANDARD_ERRORS:g} SE from zero; **not resolved**: within."
)
Runs = dict[int, RunRecord]  # by seed


class NotCompared(Exception):
    """Why a row and its full procedure cannot be compared on a task (the message)."""


@dataclass(frozen=True)
class Conclusion:
    """One row of one table on one task against that table's full procedure, or one of the
    N_a study's differences (not the paper's: the verdict says only higher or lower)."""

    table: str
    row: str
    task: str
    difference: PairedGap | None  # None: see not_compared
    in_paper: bool  # the paper's row, which scores below its full procedure
    not_compared: str = ""  # why there is no difference

    @property
    def verdict(self) -> str:
        if self.difference is None:
            return self.not_compared
        if not self.difference.judged:
            return "one seed: not judged"
        if self.in_paper:
            return {-1: "holds", 0: "not resolved", 1: "reversed"}[self.difference.direction]
        return {-1: "lower", 0: "not resolved", 1: "higher"}[self.difference.direction]


def read_runs(results_root: str | Path) -> dict[tuple[str, str, str], Runs]:
    """Every run record of Tables 2-4 and the studies under ``results_root``, by (table,
    row label as the paper spells it, task); a seed recorded twice (two results folders
    under one root) is an error, not a silent choice."""
    runs: dict[tuple[str, str, str], Runs] = {}
    for path in sorted(Path(results_root).rglob("seed*.json")):
        record = RunRecord.read(path)
        if record.table in PAPER_REFERENCE:
            row = paper_row_label(record.row, record.table)
        elif record.table in STUDIES:
            row = record.row
        else:
            continue
        by_seed = runs.setdefault((record.table, row, record.task), {})
        if int(record.seed) in by_seed:
            raise ValueError(f"{path}: {row} on {record.task}, seed {record.seed} twice")
        by_seed[int(record.seed)] = record
    return runs


def compare(task_name: str, row: Runs, full: Runs) -> PairedGap:
    """``row`` minus ``full`` on the seeds both ran; :class:`NotCompared` says why not."""
    task = TASKS[task_name]
    if task.labels is None:
        raise NotCompared("regression: no paired test")
    if not full:
        raise NotCompared("no full run")
    seeds = sorted(set(row) & set(full))
    if not seeds:
        raise NotCompared("no seed run by both")
    kept = shared_dev_set(task_name, [row[seed] for seed in seeds] + [full[seed] for seed in seeds])
    if kept is None:
        raise NotCompared("no predictions")
    gold, predicted = kept
    return paired_gap(task, predicted[: len(seeds)], predicted[len(seeds) :], gold)


def _conclusion(
    table: str, row: str, task: str, runs: Runs, full: Runs, in_paper: bool
) -> Conclusion:
    try:
        return Conclusion(table, row, task, compare(task, runs, full), in_paper)
    except NotCompared as reason:
        return Conclusion(table, row, task, None, in_paper, not_compared=str(reason))


def conclusions(results_root: str | Path) -> list[Conclusion]:
    """Every variant row of Tables 2-4 on every task it ran, in the paper's order."""
    runs = read_runs(results_root)
    found = []
    for table, paper in PAPER_REFERENCE.items():
        first = next(iter(paper))
        rows = {row for t, row, _ in runs if t == table and row != first}
        ordered = [row for row in paper if row in rows] + sorted(rows - set(paper))
        for row in ordered:
            tasks = {t for (tab, r, t) in runs if (tab, r) == (table, row)}
            for task in sorted(tasks, key=column_position):
                full = runs.get((table, first, task)) or runs.get((*FULL_RUN, task), {})
                found.append(
                    _conclusion(table, row, task, runs[(table, row, task)], full, row in paper)
                )
    return found


def augmentation_size(results_root: str | Path) -> list[Conclusion]:
    """The N_a study's three differences per task, paired by seed: the DA gap at the
    profile's N_a (TinyBERT4 minus "w/o DA"), at four times it (the study's row minus "w/o
    DA"), and what the larger set adds to TinyBERT4; empty without study runs."""
    runs = read_runs(results_root)
    study = AUGMENTATION_SIZE
    larger, *_ = STUDIES[study]
    full, without = FULL_RUN, ("table2", "w/o DA")
    differences = {
        f"{full[1]} − w/o DA": (full, without),
        f"{larger.label} − w/o DA": ((study, larger.label), without),
        f"{larger.label} − {full[1]}": ((study, larger.label), full),
    }
    tasks = sorted({task for table, _, task in runs if table == study}, key=column_position)
    return [
        _conclusion(study, label, task, runs.get((*a, task), {}), b_runs, in_paper=False)
        for label, (a, b) in differences.items()
        for task in tasks
        if (b_runs := runs.get((*b, task), {}))
    ]


def conclusions_table(found: Sequence[Conclusion], excluded: Collection[str] = ()) -> pd.DataFrame:
    """One line per table row, one column per task: ``-6.1 ± 1.1 (3/3 below): holds``."""
    lines = [
        {
            "Setting": row,
            "Table": table.removeprefix("table"),
            f"paper ({', '.join(PAPER_TASKS)})": _paper_gaps(table, row),
            **cells,
        }
        for (table, row), cells in _task_cells(found, excluded).items()
    ]
    return pd.DataFrame(lines).set_index("Setting") if lines else pd.DataFrame()


def study_table(found: Sequence[Conclusion], excluded: Collection[str] = ()) -> pd.DataFrame:
    """:func:`augmentation_size` as display strings, one line per difference."""
    lines = [
        {"Difference": row, **cells} for (_, row), cells in _task_cells(found, excluded).items()
    ]
    return pd.DataFrame(lines).set_index("Difference") if lines else pd.DataFrame()


def _task_cells(
    found: Sequence[Conclusion], excluded: Collection[str]
) -> dict[tuple[str, str], dict[str, str]]:
    """Per (table, row), a display cell per task label, in our column order."""
    order = sorted({c.task for c in found}, key=column_position)
    labels = [TASK_LABELS[task_key(task)] for task in order]
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for conclusion in found:
        line = cells.setdefault((conclusion.table, conclusion.row), dict.fromkeys(labels, MISSING))
        line[TASK_LABELS[task_key(conclusion.task)]] = _cell(
            conclusion, conclusion.task in excluded
        )
    return cells


def _paper_gaps(table: str, row: str) -> str:
    """The paper's ``row`` minus its full procedure on the tasks we share, e.g. ``-2.0, -22.3``."""
    paper = PAPER_REFERENCE[table]
    if row not in paper:
        return MISSING
    first = paper[next(iter(paper))]
    columns = [PAPER_COLUMNS.index(task) for task in PAPER_TASKS]
    return ", ".join(f"{paper[row][i] - first[i]:+.1f}" for i in columns)


def _cell(conclusion: Conclusion, excluded: bool) -> str:
    if excluded:
        return "no effect: not judged"
    difference = conclusion.difference
    if difference is None:
        return f"{MISSING} ({conclusion.not_compared})"
    shown = f"{round(difference.gap, 1) + 0.0:+.1f}"
    if difference.judged:
        shown += f" ± {difference.standard_error:.1f}"
    return f"{shown} ({difference.below}/{difference.seeds} below): {conclusion.verdict}"


def conclusions_markdown(results_root: str | Path) -> str:
    """The conclusions table of ``results_root`` with its note, as README shows it."""
    excluded = excluded_tasks(majority_tests(results_root))
    table = conclusions_table(conclusions(results_root), excluded)
    if table.empty:
        return "No run of Tables 2-4 yet.\n"
    markdown = (
        "**Does each of the paper's conclusions hold here? Each row against the full "
        f"procedure, per task**\n\n{to_markdown(table)}\n{NOTE}\n"
    )
    study = study_table(augmentation_size(results_root), excluded)
    if not study.empty:
        markdown += (
            "\n**N_a study: is the DA gap larger with four times the profile's N_a?**\n\n"
            f"{to_markdown(study)}\n{STUDY_NOTE}\n"
        )
    return markdown


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m analysis.conclusions RESULTS``: print, for each row of Tables 2-4 and
    each task, whether the paper's conclusion holds."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.conclusions", description=main.__doc__
    )
    parser.add_argument("results", type=Path, help="e.g. results/cpu")
    add_update_option(parser, f"the table between <!-- {README_BLOCK}:begin --> and :end -->")
    args = parser.parse_args(argv)
    markdown = conclusions_markdown(args.results)
    print(markdown)
    update_or_exit(parser, args.update, {README_BLOCK: markdown})


if __name__ == "__main__":
    main()
