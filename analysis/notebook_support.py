"""Small helpers shared by the notebooks: quiet training output, pieces, logs, figures.

The notebooks drive :class:`distill.experiments.runner.Runner`; these helpers only keep its output
readable and let an analysis cell skip cleanly when a checkpoint is absent and the notebook
was asked not to train (``TINYBERT_RUN_MISSING=0``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis.plots import save_figure
from analysis.tables import (
    PAPER_REFERENCE,
    PRIMARY_METRIC,
    TASK_LABELS,
    TASK_ORDER,
    paper_table,
    table_scores,
    task_key,
)
from distill.experiments import Experiment
from distill.experiments.ablations import FULL, FULL_RUN, REPEATS_FULL_RUN
from distill.experiments.layout import ResultsLayout, WorkLayout
from distill.experiments.profiles import PROFILES, Profile

NOT_REDUCTIONS = ("name", "glue_dir", "corpus")  # where the data lives, not how much of it
ROOT = Path(__file__).resolve().parents[1]
RENDERED_FROM = "rendered from "  # marks the record of a notebook's inputs in its outputs
METRIC_LABELS = {"f1": "F1", "mcc": "MCC", "acc": "accuracy", "spearman": "Spearman"}
METRIC_NAMES = {  # task label -> the name of its primary metric
    TASK_LABELS[task]: METRIC_LABELS[metric] for task, metric in PRIMARY_METRIC.items()
}


def quiet_logging() -> None:
    """Warnings only, but the runner's one line per ``python -m distill`` command; no load bars.

    Called before any run: ``python -m augment`` configures INFO logging for the whole
    process unless logging is already configured, and every library would then log.
    """
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    logging.getLogger("distill.experiments.runner").setLevel(logging.INFO)
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()  # "Loading weights" bars


@contextlib.contextmanager
def training_output(runner) -> Iterator[Path]:
    """Send progress bars and per-epoch prints of training to ``work/notebook.log``."""
    path = Path(runner.work) / "notebook.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        path.open("a", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        yield path


def profile_table(profile: Profile) -> pd.DataFrame:
    """Each setting of ``profile`` beside the paper profile's, and whether it differs."""
    ours, paper = profile.describe(), PROFILES["paper"].describe()
    rows = {
        key: {
            profile.name: str(value),
            "paper": str(paper[key]),
            "differs from paper": key not in NOT_REDUCTIONS and value != paper[key],
        }
        for key, value in ours.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def run_status(runner, table: str) -> pd.DataFrame:
    """``runner.status`` of ``table`` as a DataFrame, one row per run.

    Table 3's "TinyBERT4" row is Table 2's run and not one of Table 3's experiments, so its
    status is added here, as the tables add its results.
    """
    status = pd.DataFrame(runner.status((table,)))
    shared = REPEATS_FULL_RUN.get(table)
    if shared is not None and shared not in set(status["row"]):
        full_table, full_row = FULL_RUN
        full = pd.DataFrame(runner.status((full_table,)))
        full = full[full["row"] == full_row].assign(table=table, row=shared)
        status = pd.concat([full, status], ignore_index=True)
    return status


def status_table(status: pd.DataFrame) -> pd.DataFrame:
    """Finished seeds per row and task of a :func:`run_status`, e.g. ``2/3``."""
    counts = status.groupby(["row", "task"], sort=False)["done"].agg(["sum", "count"])
    cells = (counts["sum"].astype(str) + "/" + counts["count"].astype(str)).unstack("task")
    cells = cells.reindex(index=status["row"].unique(), columns=status["task"].unique())
    return cells.rename_axis(index="seeds done", columns=None)


def finished_file(runner, piece: str, *args: str | int | Experiment) -> Path:
    """The file whose presence tells the runner that ``piece`` is finished (the runner
    builds a missing piece as soon as it is asked for it)."""
    layout = WorkLayout(Path(runner.work))
    if piece == "teacher":
        (task,) = args
        return layout.teacher(task) / "config.json"
    if piece == "general":
        return layout.general() / "config.json"
    if piece == "augmented":
        (task,) = args
        return layout.augmented(task)
    if piece == "student":
        experiment, task, seed = args
        return layout.run(experiment, task, seed) / "stage2" / "config.json"
    raise ValueError(f"unknown piece {piece!r}")


def get_piece(runner, piece: str, *args, run_missing: bool) -> Path | None:
    """``runner.<piece>(*args)`` when finished or ``run_missing``; else a note and ``None``."""
    done = finished_file(runner, piece, *args)
    if not done.is_file() and not run_missing:
        print(skip_note(runner, piece, done, *args))
        return None
    with training_output(runner):
        return getattr(runner, piece)(*args)


def read_log(path: str | Path) -> pd.DataFrame:
    """A ``log.jsonl`` as a DataFrame: training records and ``stage == "eval"`` records."""
    with open(path, encoding="utf-8") as handle:
        return pd.DataFrame([json.loads(line) for line in handle if line.strip()])


def save(fig: Figure, runner, name: str) -> Path:
    """Save ``fig`` as ``work/figures/<name>.png`` and return the path."""
    return save_figure(fig, Path(runner.work) / "figures" / name)[0]


def seed_scores(results: pd.DataFrame, table: str) -> pd.DataFrame:
    """Each seed's primary dev metric (x100) for the rows of ``table``, in the paper's order.

    ``results`` is :func:`analysis.tables.load_results`; like the tables, Table 3's
    "TinyBERT4" and Table 4's "Uniform" rows are Table 2's TinyBERT4 run.
    """
    rows = table_scores(results, table)
    order = {row: i for i, row in enumerate(PAPER_REFERENCE[table])}
    rows = rows.sort_values("row", key=lambda r: r.map(order).fillna(len(order)), kind="stable")
    return rows.assign(score=rows["value"] * 100, task=rows["task"].map(TASK_LABELS))


def plot_seed_scores(scores: pd.DataFrame, table: str, title: str) -> Figure:
    """One panel per task: each seed (dot), the mean (bar) and the paper's value (diamond).

    Each panel's axis names the task's metric (F1, MCC or accuracy, as the paper reports).
    """
    tasks = [label for label in TASK_LABELS.values() if label in set(scores["task"])]
    rows = list(PAPER_REFERENCE[table])
    rows += [row for row in scores["row"].unique() if row not in rows]
    paper = paper_table(table)
    fig = Figure(figsize=(3.6 * max(1, len(tasks)), 0.45 * len(rows) + 1.4), layout="constrained")
    axes = fig.subplots(1, max(1, len(tasks)), sharey=True, squeeze=False)[0]
    for ax, task in zip(axes, tasks, strict=False):
        for y, row in enumerate(rows):
            values = scores.loc[(scores["task"] == task) & (scores["row"] == row), "score"]
            ax.scatter(values, [y] * len(values), color="tab:blue", s=18, zorder=3)
            if len(values):
                ax.plot([values.mean()] * 2, [y - 0.3, y + 0.3], color="tab:blue", lw=2)
            if task in paper.columns and row in paper.index:
                ax.scatter(
                    paper.loc[row, task],
                    y,
                    marker="D",
                    facecolors="none",
                    edgecolors="tab:red",
                    s=40,
                    zorder=3,
                )
        ax.set_title(task)
        ax.set_xlabel(f"dev {METRIC_NAMES[task]} x100")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(rows)), labels=rows)
    axes[0].invert_yaxis()
    fig.suptitle(f"{title}\nours: dots = seeds, bar = mean; paper: red diamond")
    return fig


def run_missing() -> bool:
    """``TINYBERT_RUN_MISSING``: train what is missing only when set to ``1`` (default off).

    Opening a notebook and running it must not start an hour of training unasked.
    """
    return os.environ.get("TINYBERT_RUN_MISSING", "0") == "1"


def build_command(runner, piece: str, *args: str | int | Experiment) -> str:
    """The shell command that builds ``piece`` (and whatever it needs) for ``runner``'s profile.

    The runner builds a missing piece when asked for it, so the command asks for exactly the
    piece the notebook needs; ``TINYBERT_WORK_DIR`` is honoured as the notebook does.
    """
    call = {
        "teacher": "teacher({!r})",
        "general": "general()",
        "augmented": "augmented({!r})",
        "student": "student(EXPERIMENTS[{!r}], {!r}, {!r})",
    }[piece]
    values = [arg.name if isinstance(arg, Experiment) else arg for arg in args]
    work = f", {str(runner.work)!r}" if os.environ.get("TINYBERT_WORK_DIR") else ""
    return (
        'python -c "from distill.experiments import EXPERIMENTS; '
        "from distill.experiments.profiles import get_profile; "
        "from distill.experiments.runner import Runner; "
        f'Runner(get_profile({runner.profile.name!r}){work}).{call.format(*values)}"'
    )


def skip_note(runner, piece: str, done: Path, *args: str | int | Experiment) -> str:
    """What a notebook prints instead of training: what is missing and the command to build it."""
    return (
        f"skipped: no finished {piece} at {display_path(done.parent)} (TINYBERT_RUN_MISSING is "
        f"off). Build it with TINYBERT_RUN_MISSING=1, or from the project's root with:\n"
        f"    {build_command(runner, piece, *args)}"
    )


def display_path(path: str | Path) -> str:
    """``path`` relative to the project's root when inside it or ``../shared``: outputs name no
    machine-specific paths."""
    path = Path(path).resolve()
    if path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    if path.is_relative_to(ROOT.parent / "shared"):
        return str(Path("..") / path.relative_to(ROOT.parent))
    return str(path)


def piece_seconds(results_dir: str | Path, task: str, seed: int) -> dict[str, float]:
    """Wall time that each piece of Table 2's TinyBERT4 run on ``task`` took, from the records
    (each records ``wall_time_s`` of the process that finished it); absent ones left out."""
    layout = ResultsLayout(Path(results_dir))
    records = {
        "teacher fine-tuning": layout.teacher_record(task),
        "general distillation": layout.general_record(),
        "data augmentation": layout.augment_record(task),
        f"task distillation (seed {seed})": layout.result(FULL_RUN[0], FULL, task, seed),
    }
    return {
        name: float(json.loads(path.read_text(encoding="utf-8"))["wall_time_s"])
        for name, path in records.items()
        if path.is_file()
    }


def inputs_digest(files: Sequence[str | Path]) -> str:
    """SHA-256 over the names (relative to the project) and bytes of ``files``, sorted."""
    digest = hashlib.sha256()
    for path in sorted(files, key=display_path):
        digest.update(display_path(path).encode() + b"\0")
        digest.update(Path(path).read_bytes() + b"\0")
    return digest.hexdigest()


def matching_files(patterns: Sequence[str]) -> list[Path]:
    """Files matching ``patterns`` (globs relative to the project's root, ``**`` allowed)."""
    found = set()
    for pattern in patterns:
        base = Path("/") if Path(pattern).is_absolute() else ROOT  # a results folder elsewhere
        found |= {path for path in base.glob(pattern.lstrip("/")) if path.is_file()}
    return sorted(found)


def rendered_from(patterns: Sequence[str]) -> dict[str, object]:
    """Print and return the record of what this notebook's outputs were rendered from.

    ``patterns`` are the globs of the result files the notebook read; the record holds them,
    how many files matched and :func:`inputs_digest` of those files. A test recomputes it for
    every committed notebook, so committed outputs that are older than the results fail.
    """
    files = matching_files(patterns)
    record = {"patterns": list(patterns), "files": len(files), "sha256": inputs_digest(files)}
    print(RENDERED_FROM + json.dumps(record))
    return record


def results_patterns(runner, *globs: str) -> list[str]:
    """``globs`` under the runner's results folder, relative to the project when inside it."""
    return [f"{display_path(runner.results_dir)}/{pattern}" for pattern in globs]


def metric_note() -> str:
    """Which metric each of our tasks' scores are, for a table figure's note (all x100)."""
    labels = [TASK_LABELS[task_key(task)] for task in TASK_ORDER]
    return "Dev scores x100: " + ", ".join(f"{label} {METRIC_NAMES[label]}" for label in labels)
