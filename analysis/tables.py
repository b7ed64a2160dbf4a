"""Result tables: our runs, aggregated over seeds, beside the paper's Tables 2, 3 and 4.

Run results schema
------------------
One JSON file per run at ``results/<table>/<row>/<task>/seed<k>.json``::

    {"table": "table2", "row": "w/o GD", "task": "mrpc", "seed": 0,
     "metrics": {"f1": 0.85, "acc": 0.80}, "config": {...}, "commit": "...",
     "wall_time_s": 123.4, "train_seconds": 456.7}

``wall_time_s`` is the process that finished the run (shared pieces such as the teacher
excluded); ``train_seconds`` (optional) is the training time of its stages summed over
every process that worked on them, so it counts a resumed run in full.

The JSON fields are authoritative and the directories only group files, so a row such as
``w/o GD`` may live in a slug directory like ``wo_gd``. ``row`` should be spelled as in the
paper (``TinyBERT4``, ``w/o GD``, ``Uniform``, ...; case is ignored) to line up with the
paper's values; other rows are appended below them. Table 3's ``TinyBERT4`` and Table 4's
``Uniform`` row are the same run as Table 2's ``TinyBERT4`` (the paper repeats its
numbers), so they show that run unless the table has its own. Task names are compared
lower-case without hyphens (``SST-2`` = ``sst2``). Metric keys are ``f1``, ``acc``,
``mcc``, ... or ``<split>/<metric>`` as ``distill.evaluation.split_metrics`` returns them
(``dev/f1``); plain keys count as the ``dev`` split, the only one tabulated. Metrics are
fractions (MCC in [-1, 1]); tables show them x100 like the paper. Each task is scored by
:data:`PRIMARY_METRIC` (the paper reports F1 on MRPC, Matthews correlation on CoLA and
accuracy elsewhere); tasks without a primary metric are left out of the tables.

We cannot run MNLI, so our columns are our tasks (MRPC, CoLA, SST-2, maybe RTE) with
``mean ± std`` over seeds, next to the paper's columns rather than under them.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.majority import excluded_tasks, majority_table, majority_tests
from analysis.paired import STANDARD_ERRORS
from analysis.plots import save_figure
from augment.atomic import write_text_atomically
from distill.experiments.ablations import AUGMENTATION_SIZE, FULL_RUN, REPEATS_FULL_RUN, STUDIES
from distill.experiments.layout import RunRecord
from distill.glue import DEV_SPLIT, TASKS

# Reference values: TinyBERT4 on the GLUE dev sets, Jiao et al., "TinyBERT: Distilling BERT
# for Natural Language Understanding", arXiv:1909.10351, Tables 2-4.
PAPER_COLUMNS = ("MNLI-m", "MNLI-mm", "MRPC", "CoLA", "Avg")
PAPER_REFERENCE: dict[str, dict[str, tuple[float, ...]]] = {
    "table2": {
        "TinyBERT4": (82.8, 82.9, 85.8, 50.8, 75.6),
        "w/o GD": (82.5, 82.6, 84.1, 40.8, 72.5),
        "w/o TD": (80.6, 81.2, 83.8, 28.5, 68.5),
        "w/o DA": (80.5, 81.0, 82.4, 29.8, 68.4),
    },
    "table3": {
        "TinyBERT4": (82.8, 82.9, 85.8, 50.8, 75.6),
        "w/o Embd": (82.3, 82.3, 85.0, 46.7, 74.1),
        "w/o Pred": (80.5, 81.0, 84.3, 48.2, 73.5),
        "w/o Trm": (71.7, 72.3, 70.1, 11.2, 56.3),
        "w/o Attn": (79.9, 80.7, 82.3, 41.1, 71.0),
        "w/o Hidn": (81.7, 82.1, 84.1, 43.7, 72.9),
    },
    "table4": {
        "Uniform": (82.8, 82.9, 85.8, 50.8, 75.6),
        "Top": (81.7, 82.3, 83.6, 35.9, 70.9),
        "Bottom": (80.6, 81.3, 84.6, 38.5, 71.3),
    },
}
TABLE_TITLES = {
    "table2": "Table 2: ablation of the learning procedure",
    "table3": "Table 3: ablation of the distillation objectives",
    "table4": "Table 4: layer mapping strategies",
}
README_BLOCKS = (*TABLE_TITLES, "majority")  # what --update writes into a README
PAPER_SOURCE = "Paper: TinyBERT4 dev set, Jiao et al., arXiv:1909.10351"
MAJORITY_NOTE = (
    "Dev primary metric x100, TinyBERT4's mean over seeds against always predicting the dev "
    "set's most frequent class; SE adds the bootstrap over dev examples and the seeds' "
    f"standard error in quadrature. A task whose gap is not above {STANDARD_ERRORS:g} SE keeps "
    "its column in the tables but is left out of the averages and the reading "
    "(`analysis.majority`)."
)

# Our tasks in the order of our columns (the paper's MRPC and CoLA first), keyed as the
# records' task names compared lower-case without hyphens; each scored by its Task.metric.
TASK_ORDER = ("mrpc", "cola", "sst-2", "rte")
_TASKS = [TASKS[name] for name in TASK_ORDER] + [
    task for name, task in TASKS.items() if name not in TASK_ORDER
]


def task_key(task: str) -> str:
    """A task's name as the tables key it: lower-case, no hyphens (``SST-2`` -> ``sst2``)."""
    return task.lower().replace("-", "")


PRIMARY_METRIC = {task_key(task.name): task.metric for task in _TASKS}
TASK_LABELS = {task_key(task.name): task.directory for task in _TASKS}
MISSING = "–"


def load_results(root: str | Path) -> pd.DataFrame:
    """Read every ``seed*.json`` under ``root`` into one row per (run, metric).

    Columns: ``table, row, task, seed, split, metric, value, mapping, commit,
    wall_time_s, train_seconds, path``; ``mapping`` is the teacher layers the student's
    layers learnt from as text (``"0 2 4 6"``, 0 being the embeddings), or None when the
    record does not say.
    """
    records = []
    for path in sorted(Path(root).rglob("seed*.json")):
        run = RunRecord.read(path)
        for key, value in run.metrics.items():
            split, _, metric = key.rpartition("/")
            records.append(
                {
                    "table": run.table,
                    "row": run.row,
                    "task": task_key(run.task),
                    "seed": int(run.seed),
                    "split": split or DEV_SPLIT,
                    "metric": metric,
                    "value": float(value),
                    "mapping": None if run.mapping is None else " ".join(map(str, run.mapping)),
                    "commit": run.commit,
                    "wall_time_s": run.wall_time_s,
                    "train_seconds": run.train_seconds,
                    "path": str(path),
                }
            )
    columns = ["table", "row", "task", "seed", "split", "metric", "value", "mapping"]
    provenance = ["commit", "wall_time_s", "train_seconds", "path"]
    return pd.DataFrame(records, columns=[*columns, *provenance])


def aggregate(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample standard deviation (ddof=1, NaN for one seed) and seed count per metric."""
    grouped = results.groupby(["table", "row", "task", "split", "metric"], sort=False)["value"]
    return grouped.agg(mean="mean", std="std", n="count").reset_index()


def paper_table(table: str) -> pd.DataFrame:
    """The paper's values for ``table`` (``"table2"``, ``"table3"`` or ``"table4"``)."""
    return pd.DataFrame.from_dict(PAPER_REFERENCE[table], orient="index", columns=PAPER_COLUMNS)


def paper_row_label(row: str, table: str) -> str:
    """The paper's spelling of ``row`` when it is one of the paper's rows, else ``row``."""
    labels = {label.casefold(): label for label in PAPER_REFERENCE[table]}
    return labels.get(row.casefold(), row)


def table_scores(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The entries of ``frame`` that score ``table``: primary dev metrics, paper's row names.

    ``frame`` is :func:`load_results` (one entry per run) or :func:`aggregate` (one per row
    and task). Table 3's "TinyBERT4" and Table 4's "Uniform" rows are Table 2's TinyBERT4
    run unless the table has runs of its own for them.
    """
    primary = frame["metric"] == frame["task"].map(PRIMARY_METRIC)
    scored = frame[(frame["split"] == DEV_SPLIT) & primary]
    rows = scored[scored["table"] == table].copy()
    rows["row"] = [paper_row_label(row, table) for row in rows["row"]]
    shared_row = REPEATS_FULL_RUN.get(table)
    if shared_row is not None and shared_row not in set(rows["row"]):
        full_table, full_row = FULL_RUN
        is_full = (scored["table"] == full_table) & (
            scored["row"].str.casefold() == full_row.casefold()
        )
        rows = pd.concat([scored[is_full].assign(table=table, row=shared_row), rows])
    return rows


def _first_row(table: str) -> str:
    """The row every other row of ``table`` is compared with (the full procedure)."""
    return next(iter(PAPER_REFERENCE[table]))


def _paper_order(rows: Sequence[str], table: str) -> list[str]:
    """The paper's rows of ``table`` in its order, then our extra rows among ``rows``."""
    return list(PAPER_REFERENCE[table]) + [row for row in rows if row not in PAPER_REFERENCE[table]]


def ours_table(
    aggregated: pd.DataFrame, table: str, excluded: Collection[str] = ()
) -> pd.DataFrame:
    """Our primary metric per row and task (x100): columns ``(task label, mean|std|n)``.

    Rows follow the paper's order, then our extra rows. ``Avg`` is the mean over our tasks
    except the ``excluded`` ones (tasks that show no effect, :mod:`analysis.majority`) and
    stays empty while any of them is missing, so a partial row is never averaged.
    """
    ours = table_scores(aggregated, table)
    ours[["mean", "std"]] *= 100
    tasks = [task for task in PRIMARY_METRIC if task in set(ours["task"])]
    wide = ours.pivot(index="row", columns="task", values=["mean", "std", "n"])
    wide = wide.swaplevel(axis=1).reindex(
        columns=pd.MultiIndex.from_product([tasks, ["mean", "std", "n"]])
    )
    wide = wide.reindex(_paper_order(wide.index, table))
    averaged = [task for task in tasks if task not in _task_keys(excluded)]
    task_means = wide.loc[:, [(task, "mean") for task in averaged]]
    wide[("Avg", "mean")] = task_means.mean(axis=1, skipna=False)
    return wide.rename(columns=TASK_LABELS, level=0)


def _task_keys(tasks: Collection[str]) -> set[str]:
    return {task_key(task) for task in tasks}


def column_position(task: str) -> int:
    """Where ``task`` (as records name it) stands among our columns."""
    return list(PRIMARY_METRIC).index(task_key(task))


def paired_gaps(results: pd.DataFrame, table: str) -> pd.DataFrame:
    """Each row minus the table's first row on the same seed (x100), per task.

    Columns ``(task label, mean|std|n|below)``: mean and sample std of the per-seed gaps,
    the seeds run in both rows, and in how many of them the row scored below the first row.
    Runs of one seed share its draws (student-head initialisation, data order when the data
    are the same), so the gaps can be consistent across seeds even where the rows' own
    spreads in :func:`ours_table` overlap. ``results`` is :func:`load_results`.
    """
    scores = table_scores(results, table)
    first = _first_row(table)
    if first not in set(scores["row"]):
        return pd.DataFrame()
    values = scores.pivot(index=["row", "seed"], columns="task", values="value") * 100
    others = values.drop(index=first, level="row")
    gaps = others.sub(values.xs(first, level="row"), level="seed")
    by_row = gaps.groupby(level="row", sort=False)
    stats = {
        "mean": by_row.mean(),
        "std": by_row.std(),
        "n": by_row.count(),
        "below": (gaps < 0).groupby(level="row", sort=False).sum(),
    }
    tasks = [task for task in PRIMARY_METRIC if task in gaps.columns]
    wide = pd.concat(stats, axis=1).swaplevel(axis=1)
    wide = wide.reindex(columns=pd.MultiIndex.from_product([tasks, list(stats)]))
    order = [row for row in _paper_order(wide.index, table) if row in wide.index]
    return wide.reindex(order).rename(columns=TASK_LABELS, level=0)


def gap_table(results: pd.DataFrame, table: str) -> pd.DataFrame:
    """:func:`paired_gaps` as display strings, e.g. ``-2.4 ± 0.8 (3/3 below)``, after the
    paper's gaps for the tasks the paper shares with us."""
    gaps = paired_gaps(results, table)
    tasks = list(gaps.columns.get_level_values(0).unique())
    paper = paper_table(table)
    paper_gaps = (paper - paper.iloc[0]).reindex(gaps.index)
    display = pd.DataFrame(index=gaps.index)
    display.index.name = "Setting"
    for task in (task for task in tasks if task in PAPER_COLUMNS):
        display[f"{task} (paper)"] = [_format(gap, np.nan, signed=True) for gap in paper_gaps[task]]
    for task in tasks:
        cells = gaps[task].itertuples(index=False)
        display[f"{task} (ours)"] = [
            MISSING if not n else f"{_format(mean, std, signed=True)} ({below}/{n} below)"
            for mean, std, n, below in cells
        ]
    return display


def mapping_table(results: pd.DataFrame) -> pd.DataFrame:
    """The teacher layers each row of Table 4 learnt from, per task (``0 2 4 6``: the
    embeddings, then teacher layers 2, 4 and 6). The adaptive row chooses per run: where
    it chose a fixed row's layers, the cell names that row, since its scores then repeat
    that row's seed for seed; where seeds chose differently, the cell names their seeds.
    Empty when the records do not say. ``results`` is :func:`load_results`.
    """
    runs = table_scores(results, "table4").dropna(subset=["mapping"])
    if runs.empty:
        return pd.DataFrame()
    seeds_by_mapping: dict[tuple[str, str], dict[str, list[int]]] = {}
    for (row, task, mapping), seeds in runs.groupby(["row", "task", "mapping"], sort=False)["seed"]:
        seeds_by_mapping.setdefault((row, task), {})[mapping] = sorted(seeds)
    ran = list(dict.fromkeys(runs["row"]))
    rows = [row for row in _paper_order(ran, "table4") if row in ran]
    display = pd.DataFrame(index=pd.Index(rows, name="Setting"))
    for task in (task for task in PRIMARY_METRIC if task in set(runs["task"])):
        fixed = {
            next(iter(chosen)): row
            for (row, of_task), chosen in seeds_by_mapping.items()
            if of_task == task and row in PAPER_REFERENCE["table4"] and len(chosen) == 1
        }
        display[TASK_LABELS[task]] = [
            _mapping_cell(seeds_by_mapping.get((row, task), {}), fixed, row) for row in rows
        ]
    return display


def _mapping_cell(seeds: dict[str, list[int]], fixed: dict[str, str], row: str) -> str:
    if not seeds:
        return MISSING
    if len(seeds) > 1:
        return ", ".join(
            f"{mapping} (seed {', '.join(map(str, chosen_by))})"
            for mapping, chosen_by in seeds.items()
        )
    mapping = next(iter(seeds))
    same = fixed.get(mapping, row)
    return mapping if same == row else f"{mapping} (= {same})"


def augmentation_size_gaps(results: pd.DataFrame) -> pd.DataFrame:
    """The N_a study: per task, paired by seed (x100), the DA gap at the profile's N_a
    (TinyBERT4 minus "w/o DA", Table 2's runs), the gap with four times N_a (the study's
    row minus "w/o DA"), and what the larger set adds to TinyBERT4. Display strings as
    :func:`gap_table`'s, ``below`` counting the seeds where the difference is negative;
    empty without study runs. ``results`` is :func:`load_results`."""
    study = AUGMENTATION_SIZE
    larger_label = STUDIES[study][0].label
    primary = results["metric"] == results["task"].map(PRIMARY_METRIC)
    scored = results[(results["split"] == DEV_SPLIT) & primary]

    def seeds(table: str, row: str) -> pd.DataFrame:
        chosen = scored[
            (scored["table"] == table) & (scored["row"].str.casefold() == row.casefold())
        ]
        return chosen.pivot(index="seed", columns="task", values="value") * 100

    larger = seeds(study, larger_label)
    if larger.empty:
        return pd.DataFrame()
    full, without = seeds(*FULL_RUN), seeds("table2", "w/o DA")
    differences = {
        f"{FULL_RUN[1]} − w/o DA": full - without,
        f"{larger_label} − w/o DA": larger - without,
        f"{larger_label} − {FULL_RUN[1]}": larger - full,
    }
    tasks = [task for task in PRIMARY_METRIC if task in larger.columns]
    display = pd.DataFrame(index=list(differences))
    display.index.name = "Difference"
    for task in tasks:
        cells = []
        for gaps in differences.values():
            values = gaps[task].dropna() if task in gaps else pd.Series(dtype=float)
            below = int((values < 0).sum())
            cells.append(
                MISSING
                if values.empty
                else f"{_format(values.mean(), values.std(), signed=True)} "
                f"({below}/{len(values)} below)"
            )
        display[TASK_LABELS[task]] = cells
    return display


def _format(mean: float, std: float, signed: bool = False) -> str:
    if np.isnan(mean):
        return MISSING
    mean = round(mean, 1) + 0.0  # no "-0.0" for a value that rounds to zero
    shown = f"{mean:+.1f}" if signed else f"{mean:.1f}"
    return shown if np.isnan(std) else f"{shown} ± {std:.1f}"


def comparison_table(
    aggregated: pd.DataFrame, table: str, excluded: Collection[str] = ()
) -> pd.DataFrame:
    """Paper columns beside ours, as display strings (``mean ± std`` over seeds).

    The ``seeds`` column gives the number of seeds behind our cells (a range when tasks
    differ), so a lone seed without a std is visible as such. An ``excluded`` task keeps its
    column, marked as showing no effect, and stays out of our average (:func:`ours_table`).
    """
    paper = paper_table(table)
    ours = ours_table(aggregated, table, excluded)
    left_out = {TASK_LABELS[key] for key in _task_keys(excluded) if key in TASK_LABELS}
    display = pd.DataFrame(index=ours.index)
    display.index.name = "Setting"
    for column in PAPER_COLUMNS:
        values = paper[column].reindex(ours.index)
        display[f"{column} (paper)"] = [MISSING if np.isnan(v) else f"{v:.1f}" for v in values]
    tasks = [task for task in ours.columns.get_level_values(0).unique() if task != "Avg"]
    for task in tasks:
        header = f"{task} (ours, no effect)" if task in left_out else f"{task} (ours)"
        display[header] = [
            _format(mean, std)
            for mean, std in zip(ours[(task, "mean")], ours[(task, "std")], strict=True)
        ]
    shown_out = [task for task in tasks if task in left_out]
    average = f"Avg (ours, without {', '.join(shown_out)})" if shown_out else "Avg (ours)"
    display[average] = [_format(mean, np.nan) for mean in ours[("Avg", "mean")]]
    counts = ours.loc[:, [(task, "n") for task in tasks]]
    display["seeds"] = [_seed_range(row.dropna()) for _, row in counts.iterrows()]
    return display


def _seed_range(counts: pd.Series) -> str:
    if counts.empty:
        return MISSING
    low, high = int(counts.min()), int(counts.max())
    return str(low) if low == high else f"{low}–{high}"


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table of ``frame`` with its index as the first column.

    Written here because ``DataFrame.to_markdown`` needs the optional ``tabulate`` package.
    """
    header = [str(frame.index.name or ""), *map(str, frame.columns)]
    rows = [
        [str(index), *map(str, values)]
        for index, values in zip(frame.index, frame.values, strict=True)
    ]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)]) + "\n"


def table_figure(frame: pd.DataFrame, title: str, note: str = PAPER_SOURCE) -> Figure:
    """Render a display table as a matplotlib figure (for PNG/SVG export).

    The figure is sized from the text lengths so the table fills it instead of floating in
    white space (matplotlib tables do not resize their figure).
    """
    widest = [max(map(len, [str(frame.index.name or ""), *map(str, frame.index)]))]
    widest += [max(map(len, [str(c), *map(str, frame[c])])) for c in frame.columns]
    fig = Figure(figsize=(0.085 * sum(widest) + 0.3 * len(widest), 0.28 * len(frame) + 1.2))
    ax = fig.add_subplot()
    ax.axis("off")
    grid = ax.table(
        cellText=frame.to_numpy(),
        rowLabels=list(frame.index),
        colLabels=list(frame.columns),
        loc="center",
        cellLoc="center",
    )
    grid.auto_set_font_size(False)
    grid.set_fontsize(8)
    grid.auto_set_column_width(list(range(-1, len(frame.columns))))
    grid.scale(1.0, 1.4)
    fig.suptitle(title, fontsize=11)
    fig.text(0.5, 0.02, note, fontsize=7, style="italic", ha="center", va="bottom")
    return fig


def write_tables(
    results_root: str | Path, out_dir: str | Path, formats: Sequence[str] = ("png",)
) -> list[Path]:
    """Write, for Tables 2-4, ``tableN.md`` (the table, then its :func:`gap_table`) plus one
    figure of the table per format; ``majority.md``, which tasks show an effect
    (:mod:`analysis.majority`), and ``augmentation-size.md`` when the N_a study ran; return
    the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = load_results(results_root)
    aggregated = aggregate(results)
    tests = majority_tests(results_root)
    tests = {task: tests[task] for task in sorted(tests, key=column_position)}
    excluded = excluded_tasks(tests)
    written = []
    if tests:
        markdown = out_dir / "majority.md"
        markdown.write_text(
            "**Does each task show an effect? TinyBERT4 against the majority class**\n\n"
            f"{to_markdown(majority_table(tests))}\n{MAJORITY_NOTE}\n"
        )
        written.append(markdown)
    for table, title in TABLE_TITLES.items():
        display = comparison_table(aggregated, table, excluded)
        gaps = gap_table(results, table)
        first = _first_row(table)
        sections = [f"**{title}**\n\n{to_markdown(display)}\n_{PAPER_SOURCE}_\n"]
        if not gaps.empty:
            sections.append(
                f"Each row minus {first} on the same seed (mean ± std over seeds; in how "
                f"many seeds the row scored below {first}):\n\n{to_markdown(gaps)}"
            )
        mappings = mapping_table(results) if table == "table4" else pd.DataFrame()
        if not mappings.empty:
            sections.append(
                "Teacher layers each student layer learnt from (0: the embeddings):\n\n"
                f"{to_markdown(mappings)}"
            )
        markdown = out_dir / f"{table}.md"
        markdown.write_text("\n".join(sections))
        written.append(markdown)
        written += save_figure(table_figure(display, title), out_dir / table, formats)
    study = augmentation_size_gaps(results)
    if not study.empty:
        markdown = out_dir / "augmentation-size.md"
        markdown.write_text(
            "**N_a study: the DA gap at the profile's N_a and at four times it**\n\n"
            "Paired by seed, x100 (mean ± std over seeds; in how many seeds the difference "
            f"is negative):\n\n{to_markdown(study)}"
        )
        written.append(markdown)
    return written


def update_markdown(path: str | Path, sections: dict[str, str]) -> None:
    """Replace the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in ``path``
    with ``sections[NAME]``, so that tables in a README are regenerated, never hand-copied.

    Every marker pair must occur exactly once; the file is rewritten only when all do.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    for name, body in sections.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        block = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
        replacement = f"{begin}\n{body.strip()}\n{end}"
        text, count = block.subn(lambda _, new=replacement: new, text)
        if count != 1:
            raise ValueError(f"{path}: expected one '{begin}' ... '{end}' block, found {count}")
    write_text_atomically(path, text)


def add_update_option(parser: argparse.ArgumentParser, blocks: str) -> None:
    """``--update MARKDOWN``: the command also writes its output into a README's blocks."""
    parser.add_argument(
        "--update", type=Path, metavar="MARKDOWN", help=f"also put {blocks} into MARKDOWN"
    )


def update_or_exit(
    parser: argparse.ArgumentParser, path: Path | None, sections: dict[str, str]
) -> None:
    """:func:`update_markdown` when ``--update`` was given; a clear error and exit 1 when
    the file or a block is missing."""
    if path is None:
        return
    try:
        update_markdown(path, sections)
    except (OSError, ValueError) as error:
        parser.exit(1, f"error: {error}\n")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m analysis.tables RESULTS OUT``: write and print Tables 2-4."""
    parser = argparse.ArgumentParser(prog="python -m analysis.tables", description=main.__doc__)
    parser.add_argument("results", type=Path, help="e.g. results/cpu")
    parser.add_argument("out", type=Path, help="folder for tableN.md and tableN.png")
    add_update_option(
        parser,
        "each tableN.md between <!-- tableN:begin --> and <!-- tableN:end -->, and "
        "majority.md between <!-- majority:begin --> and <!-- majority:end -->",
    )
    args = parser.parse_args(argv)
    markdown = {
        path.stem: path.read_text(encoding="utf-8")
        for path in write_tables(args.results, args.out)
        if path.suffix == ".md"
    }
    for text in markdown.values():
        print(text)
    tables = {name: text for name, text in markdown.items() if name in README_BLOCKS}
    update_or_exit(parser, args.update, tables)


if __name__ == "__main__":
    main()
