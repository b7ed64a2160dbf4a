"""Where a reproduction keeps its pieces and results, and what a run's record holds.

The runner writes, and ``analysis.tables``, ``analysis.cost`` and the notebooks read, through
this one module:

    WORK/glue/<Task>/               GLUE sets reduced as the profile says
    WORK/teacher/<task>/best/       the fine-tuned teacher (<task>-alternative<i>/: other
                                    candidates; <task>.json: which one is the teacher)
    WORK/general[-without-X]/       a general-distilled student
    WORK/augment/<task>/train_aug.tsv
    WORK/runs/<row>/<task>/seed<k>/ a task-distillation run (final student: stage2/best)
    WORK/teacher-cache/             teacher outputs shared by runs (rebuilt on demand)

    RESULTS/profile.json            the profile the results were made with
    RESULTS/teachers/<task>.json, RESULTS/general[-without-X].json, RESULTS/augment/<task>.json
    RESULTS/<table>/<row>/<task>/seed<k>.json   one RunRecord per run

A row that repeats the full procedure (Table 3's TinyBERT4, Table 4's Uniform) is Table 2's
run, stored once under Table 2 (:func:`canonical`). Records name paths relative to the
project (``../shared/...``, ``runs/...``) or to the work folder (``WORK/...``), never a
machine's absolute paths.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from augment.atomic import write_json_atomically
from distill.experiments.ablations import FULL, FULL_RUN, Experiment

RECORD_KEYS = ("table", "row", "task", "seed", "metrics")  # what every run record must hold


@dataclass(frozen=True)
class WorkLayout:
    """The work folder: data, checkpoints, caches (never committed)."""

    work: Path

    @property
    def glue(self) -> Path:
        return self.work / "glue"

    @property
    def teacher_cache(self) -> Path:
        return self.work / "teacher-cache"

    def teacher(self, task: str, candidate: int = 0) -> Path:
        """A fine-tuning folder (the teacher itself is its ``best/``): the profile's
        teacher's, or its ``candidate``-th alternative's."""
        name = task if candidate == 0 else f"{task}-alternative{candidate}"
        return self.work / "teacher" / name

    def teacher_choice(self, task: str) -> Path:
        """Which fine-tuned candidate is the task's teacher, written once they all are."""
        return self.work / "teacher" / f"{task}.json"

    def general(self, without: tuple[str, ...] = ()) -> Path:
        return self.work / general_name(without)

    def augmented(self, task: str, n_a_scale: int = 1) -> Path:
        return self.work / "augment" / augment_name(task, n_a_scale) / "train_aug.tsv"

    def run(self, experiment: Experiment, task: str, seed: int) -> Path:
        return self.work / "runs" / experiment.name / task / f"seed{seed}"

    def lock(self, piece: str) -> Path:
        return self.work / "locks" / f"{piece}.lock"


@dataclass(frozen=True)
class ResultsLayout:
    """The results folder: the records (committed)."""

    results: Path

    def result(self, table: str, experiment: Experiment, task: str, seed: int) -> Path:
        table, experiment = canonical(table, experiment)
        return self.results / table / experiment.name / task / f"seed{seed}.json"

    def teacher_record(self, task: str) -> Path:
        return self.results / "teachers" / f"{task}.json"

    def general_record(self, without: tuple[str, ...] = ()) -> Path:
        return self.results / f"{general_name(without)}.json"

    def augment_record(self, task: str, n_a_scale: int = 1) -> Path:
        return self.results / "augment" / f"{augment_name(task, n_a_scale)}.json"

    def run_records(self) -> list[Path]:
        return sorted(self.results.rglob("seed*.json"))

    def teacher_records(self) -> list[Path]:
        return sorted(self.teacher_record("*").parent.glob("*.json"))

    def augment_records(self) -> list[Path]:
        return sorted(self.augment_record("*").parent.glob("*.json"))

    def general_records(self) -> list[Path]:
        return sorted(self.results.glob(f"{general_name(())}*.json"), key=lambda path: path.stem)


def general_name(without: tuple[str, ...]) -> str:
    """``general``, or e.g. ``general-without-trm`` for the "w/o Trm" row's start."""
    return "general" + "".join(f"-without-{objective}" for objective in without)


_N_A_SCALE = "-n_a-x"


def augment_name(task: str, n_a_scale: int) -> str:
    """``mrpc``, or e.g. ``mrpc-n_a-x4`` for a set with four times the profile's N_a."""
    return task if n_a_scale == 1 else f"{task}{_N_A_SCALE}{n_a_scale}"


def parse_augment_name(name: str) -> tuple[str, int]:
    """The task and N_a scale of an :func:`augment_name` (``mrpc-n_a-x4`` -> mrpc, 4)."""
    task, _, scale = name.partition(_N_A_SCALE)
    return task, int(scale or 1)


def canonical(table: str, experiment: Experiment) -> tuple[str, Experiment]:
    """Where a row's run is stored: a row that repeats the full procedure is Table 2's."""
    if experiment.same_run_as(FULL):
        return FULL_RUN[0], FULL
    return table, experiment


@dataclass(frozen=True)
class RunRecord:
    """One finished task-distillation run: its scores and how it was made.

    ``metrics`` are ``{"<split>/<metric>": fraction}`` as ``distill.stages.evaluate`` returns;
    ``command`` the ``python -m distill`` command that trains it; ``settings`` what the run
    resolved and used (mapping, objectives, temperature, epochs, learning rates, data
    sizes). ``predictions`` hold, per dev split, the predicted and gold class of every
    example in file order (strings of class indices; absent for regression and for records
    made before they were kept). ``wall_time_s`` is the process that finished the run,
    ``train_seconds`` its stages' training time over every process that worked on them
    (resumed runs in full); ``teacher_cache_bytes`` the teacher cache's size on disk when
    the run finished.
    """

    table: str
    row: str
    task: str
    seed: int
    metrics: dict[str, float]
    mapping: list[int] | None = None
    settings: dict | None = None
    selected: dict | None = None
    command: list[str] | None = None
    profile: dict | None = None
    commit: str | None = None
    wall_time_s: float | None = None
    train_seconds: float | None = None
    predictions: dict[str, dict[str, str]] | None = None
    teacher_cache_bytes: int | None = None

    @classmethod
    def read(cls, path: str | Path) -> RunRecord:
        """The record in ``path``; keys it does not know (older records' extras) are
        ignored, a missing required key is an error naming the file."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        missing = [key for key in RECORD_KEYS if key not in data]
        if missing:
            raise ValueError(f"{path} lacks {missing}")
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def write(self, path: str | Path) -> None:
        write_json_atomically(Path(path), asdict(self))
