"""The experiment runner: every run of Tables 2-4 for a profile, resumable, with results.

    python -m distill experiments run table3 --profile cpu
    python -m distill experiments status --profile cpu

A table run needs pieces shared between its rows, built once and reused:

    data (task)        GLUE train/dev copied, reduced as the profile says -> work/glue/
    teacher (task)     the pre-trained teacher fine-tuned on the task     -> work/teacher/
    general            general distillation of the student on the corpus  -> work/general/
    augmented (task)   Algorithm 1 on the training set                    -> work/augment/
    run (row, task, seed)  task distillation with the row's switches      -> work/runs/

Every piece is a ``python -m distill`` / ``python -m augment`` command run in-process, so
an interrupted piece resumes from its own checkpoint when the runner is started again;
finished pieces are recognised by their final files and skipped. Teacher outputs are
cached (``--teacher-cache``) and shared by all rows with the same teacher, data and
mapping. Each finished run writes ``results/<profile>/<table>/<row>/<task>/seed<k>.json``
(the schema :mod:`analysis.tables` reads) with its metrics, the exact command, profile,
commit and wall time; teacher and general-distillation results go beside them.

Several runners may share one work folder (e.g. one per CPU core): each shared piece is
built under a lock by the first runner that needs it while the others wait, and a run that
another runner is training is skipped, so the runners split the remaining runs between them.

Seeds vary task distillation (student head, data order, dropout); the fine-tuned teacher,
the general-distilled student and the augmented data are shared by all seeds of a row.
Table 3's "TinyBERT4" and Table 4's "Uniform" rows are the same run as Table 2's, as in
the paper; they are run (and stored) once, under Table 2.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from filelock import FileLock, Timeout
from transformers import AutoConfig

from augment.api import AugmentSettings, AugmentSpec, augment
from distill.adaptive_mapping import MAPPING_FILE
from distill.distiller import INTERMEDIATE_OBJECTIVES
from distill.errors import DistillError, MissingInput, OneLineParser
from distill.experiments import EXPERIMENTS, TABLES, Experiment
from distill.glue import get_task
from distill.hub import MINILM
from distill.mapping import ADAPTIVE, layer_mapping, parse_mapping
from distill.model_card import CardRecipe, write_card
from distill.profiles import (
    BEST_LOCAL_MLM,
    PIP_MINILM,
    PROFILE_DEFAULTS,
    ROOT,
    TINY_RANDOM,
    Profile,
    per_task,
)

logger = logging.getLogger(__name__)

FULL = EXPERIMENTS["full"]
CODE_PATHS = ("augment", "distill", "analysis", "pyproject.toml")
SHARED_MLM = ROOT.parent / "shared" / "assets" / "models" / "minilm-wiki-mlm"


def git_commit(root: Path = ROOT) -> str:
    """The checked-out commit, with ``-dirty`` when the code differs from it.

    Only the packages and the project file count as code: results and documentation
    change while runs go on, and must not mark the runs as made by uncommitted code.
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def _write_json(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    partial.replace(path)


def _distill(argv: list[str]) -> None:
    from distill.cli import main

    logger.info("python -m distill %s", " ".join(argv))
    main(argv)


class Runner:
    """Builds the pieces of a profile's tables under ``work_dir`` and stores results.

    Defaults: ``runs/<profile>`` for checkpoints (never committed) and
    ``results/<profile>`` for results (committed), except for ``smoke``, whose results
    stay in its work folder.
    """

    def __init__(
        self,
        profile: Profile,
        work_dir: str | Path | None = None,
        results_dir: str | Path | None = None,
        keep_checkpoints: bool = False,
        cache_max_gb: float | None = None,
    ):
        self.profile = profile
        self.work = Path(work_dir or ROOT / "runs" / profile.name)
        default_results = (
            self.work / "results" if profile.name == "smoke" else ROOT / "results" / profile.name
        )
        self.results_dir = Path(results_dir or default_results)
        self.data_dir = self.work / "glue"
        # The code this process runs is the code checked out when it started; later
        # commits or edits must not be credited with its results.
        self.commit = git_commit()
        self.cache = self.work / "teacher-cache"
        self.keep_checkpoints = keep_checkpoints
        self.cache_max_gb = cache_max_gb
        self._check_profile()

    def _check_profile(self) -> None:
        """Refuse to mix pieces or results of two different profiles in one folder.

        A folder may grow by a task or a seed (see :func:`_recipe_changes`); its stamp then
        records the profile as it is now.
        """
        described = json.loads(json.dumps(self.profile.describe()))
        for folder in (self.work, self.results_dir):
            stamp = folder / "profile.json"
            if stamp.is_file():
                stored = json.loads(stamp.read_text(encoding="utf-8"))
                if stored == described:
                    continue
                changed = _recipe_changes(stored, described)
                if changed:
                    raise DistillError(
                        f"{folder} holds runs of another configuration of profile "
                        f"{self.profile.name!r} (differs in {changed}); use another folder"
                    )
            _write_json(stamp, described)

    # ---- shared pieces -------------------------------------------------------------

    def pretrained_teacher(self) -> str:
        """The pre-trained (not fine-tuned) teacher: hub name or local folder."""
        if self.profile.teacher == PIP_MINILM:
            return MINILM
        if self.profile.teacher == TINY_RANDOM:
            return str(self._tiny_model(self.work / "tiny-teacher", masked_lm=False))
        return self.profile.teacher

    def masked_lm(self) -> str:
        """The ``--mlm`` for augmentation: the best one available for the profile."""
        if self.profile.mlm == TINY_RANDOM:
            return str(self._tiny_model(self.work / "tiny-mlm", masked_lm=True))
        if self.profile.mlm == BEST_LOCAL_MLM:
            return str(SHARED_MLM) if (SHARED_MLM / "config.json").is_file() else "embedded"
        return self.profile.mlm

    def _tiny_model(self, folder: Path, masked_lm: bool) -> Path:
        """A tiny random BERT with the real uncased vocabulary (smoke profile)."""
        if (folder / "config.json").is_file():
            return folder
        from transformers import AutoTokenizer, BertConfig, BertForMaskedLM, BertModel

        from augment.mlm import minilm_encoder_path

        tokenizer = AutoTokenizer.from_pretrained(minilm_encoder_path())
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=48,
            num_hidden_layers=6,
            num_attention_heads=12,
            intermediate_size=96,
        )
        torch.manual_seed(0)
        model = (BertForMaskedLM if masked_lm else BertModel)(config)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return folder

    def data(self, task_name: str) -> Path:
        """The task's GLUE folder, training (and, for smoke, dev) sets reduced as profiled."""
        task = get_task(task_name)
        source, target = self.profile.glue_dir / task.directory, self.data_dir / task.directory
        with self._building(f"data-{task.name}"):
            if (target / "done").is_file():
                return target
            if not source.is_dir():
                raise MissingInput(f"{source}: GLUE {task.directory} folder not found")
            target.mkdir(parents=True, exist_ok=True)
            for split in ("train", *task.dev_splits):
                if split == "train":
                    limit = per_task(self.profile.train_limit, task.name)
                else:
                    limit = self.profile.dev_limit
                source_file, target_file = source / f"{split}.tsv", target / f"{split}.tsv"
                _sample_tsv(source_file, target_file, task.has_header, limit)
            (target / "done").write_text("")
        return target

    def teacher(self, task_name: str) -> Path:
        """The fine-tuned teacher (best dev checkpoint); its dev metrics go to results."""
        folder = self.work / "teacher" / task_name
        with self._building(f"teacher-{task_name}"):
            if not (folder / "config.json").is_file():
                self.data(task_name)
                started = time.time()
                argv = [
                    "finetune",
                    *("--task", task_name, "--data-dir", str(self.data_dir)),
                    *("--model", self.pretrained_teacher(), "--output-dir", str(folder)),
                    *("--epochs", str(per_task(self.profile.finetune_epochs, task_name))),
                    *("--lr", str(self.profile.finetune_lr)),
                    *("--batch-size", str(self.profile.batch_size), "--seed", "0"),
                ]
                _distill(argv)
                record = self._record(
                    self.results_dir / "teachers" / f"{task_name}.json",
                    {"task": task_name, "model": self._portable([self.pretrained_teacher()])[0]},
                    argv,
                    folder / "best",
                    task_name,
                    time.time() - started,
                )
                self._write_card(folder / "best", record)
                if not self.keep_checkpoints:
                    _drop_resume_state(folder, keep_weights=False)  # the teacher is best/
        return folder / "best"

    def general(self, without: tuple[str, ...] = ()) -> Path:
        """The general-distilled student, shared by the rows that start from it: the full
        one, or with the objectives in ``without`` left out (the paper's "w/o Trm" row
        starts from an embedding-only general distillation, footnote 11)."""
        name = "general" + "".join(f"-without-{objective}" for objective in without)
        folder = self.work / name
        with self._building(name):
            if not (folder / "config.json").is_file():
                started = time.time()
                argv = [
                    "general",
                    *("--teacher", self.pretrained_teacher(), "--corpus", str(self.profile.corpus)),
                    *("--student-preset", self.profile.student_preset),
                    *("--output-dir", str(folder), "--seed", "0"),
                    *("--epochs", str(self.profile.general_epochs)),
                    *("--max-length", str(self.profile.general_max_length)),
                    *("--batch-size", str(self.profile.batch_size)),
                ]
                if self.profile.general_lr is not None:
                    argv += ["--lr", str(self.profile.general_lr)]
                if self.profile.general_max_lines:
                    argv += ["--max-lines", str(self.profile.general_max_lines)]
                for objective in without:
                    argv += ["--without", objective]
                _distill(argv)
                if not self.keep_checkpoints:
                    _drop_resume_state(folder, keep_weights=True)
                record = {
                    "command": ["python", "-m", "distill", *self._portable(argv)],
                    "profile": self.profile.describe(),
                    "commit": self.commit,
                    "wall_time_s": round(time.time() - started, 1),
                    "final_log": _last_log(folder),
                }
                _write_json(self.results_dir / f"{name}.json", record)
        return folder

    def augmented(self, task_name: str) -> Path:
        """The task's training set augmented by Algorithm 1."""
        output = self.work / "augment" / task_name / "train_aug.tsv"
        with self._building(f"augment-{task_name}"):
            if output.is_file():
                return output
            task = get_task(task_name)
            train = self.data(task_name) / "train.tsv"
            settings = AugmentSettings(
                p_t=self.profile.p_t,
                n_a=per_task(self.profile.n_a, task_name),
                k=self.profile.k,
                clean=self.profile.candidates == "clean",
            )
            spec = AugmentSpec(
                input=train,
                output=output,
                task=task.name,
                settings=settings,
                seed=0,
                mlm=self.masked_lm(),
                glove=self.profile.glove,
            )
            output.parent.mkdir(parents=True, exist_ok=True)
            logger.info("python -m augment %s", " ".join(spec.to_argv()))
            result = augment(spec)
            record = {
                "task": task_name,
                "command": ["python", "-m", "augment", *self._portable(spec.to_argv())],
                "commit": self.commit,
                "wall_time_s": round(result.seconds, 1),
                "input_lines": _count_lines(train),
                "output_lines": _count_lines(output),
            }
            _write_json(self.results_dir / "augment" / f"{task_name}.json", record)
        return output

    def prepare(self, tasks: tuple[str, ...] | None = None) -> None:
        """Build every shared piece the tables need: each task's teacher and augmented
        set, then the general-distilled student (e.g. on one core while another runner
        trains)."""
        for task in tasks or self.profile.tasks:
            self.teacher(task)
            self.augmented(task)
        starts = {e.general_without for e in EXPERIMENTS.values() if e.general_distillation}
        for without in sorted(starts):
            self.general(without)

    # ---- runs ----------------------------------------------------------------------

    def result_path(self, table: str, experiment: Experiment, task: str, seed: int) -> Path:
        table, experiment = _canonical(table, experiment)
        return self.results_dir / table / experiment.name / task / f"seed{seed}.json"

    def student(self, experiment: Experiment, task_name: str, seed: int) -> Path:
        """Task distillation for one row/task/seed; returns the selected final student."""
        return self._train_student(experiment, task_name, seed)[0]

    def _train_student(
        self, experiment: Experiment, task_name: str, seed: int
    ) -> tuple[Path, list[str], float]:
        """(final student, command, seconds spent in this command, shared pieces excluded)."""
        folder = self.work / "runs" / experiment.name / task_name / f"seed{seed}"
        argv = self.task_command(experiment, task_name, seed, folder)  # builds shared pieces
        started = time.time()
        if not (folder / "stage2" / "config.json").is_file():
            _distill(argv)
        return folder / "stage2" / "best", argv, time.time() - started

    def task_command(
        self, experiment: Experiment, task_name: str, seed: int, folder: Path
    ) -> list[str]:
        """The ``python -m distill`` arguments of one run (building what it needs)."""
        argv = [
            "task",
            "--experiment",
            experiment.name,
            *("--task", task_name, "--data-dir", str(self.data(task_name))),
            *("--teacher", str(self.teacher(task_name))),
            *("--student-preset", self.profile.student_preset),
            *("--output-dir", str(folder), "--seed", str(seed)),
            *("--batch-size", str(self.profile.batch_size)),
            *("--stage2-epochs", str(self.profile.stage2_epochs)),
            *("--teacher-cache", str(self.cache)),
        ]
        if self.cache_max_gb is not None:
            argv += ["--teacher-cache-max-gb", str(self.cache_max_gb)]
        # The task's own pieces first: a parallel runner prepares them while another
        # builds the general-distilled student.
        if experiment.augmentation:
            argv += ["--augmented-train", str(self.augmented(task_name))]
        if experiment.general_distillation:
            argv += ["--student", str(self.general(experiment.general_without))]
        if self.profile.stage1_epochs is not None:
            argv += ["--stage1-epochs", str(self.profile.stage1_epochs)]
        if self.profile.stage1_lr is not None:
            argv += ["--stage1-lr", str(self.profile.stage1_lr)]
        if self.profile.stage2_lr is not None:
            argv += ["--stage2-lr", str(self.profile.stage2_lr)]
        return argv

    def run(self, table: str, experiment: Experiment, task: str, seed: int) -> Path | None:
        """One result file: kept when it exists, else trained (or resumed) and scored.

        ``None`` when another runner is training this run right now.
        """
        path = self.result_path(table, experiment, task, seed)
        if path.is_file():
            return path
        table, experiment = _canonical(table, experiment)
        lock = self._lock(f"run-{experiment.name}-{task}-seed{seed}")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            logger.info("%s %s seed %d: another runner is on it, skipped", table, task, seed)
            return None
        try:
            if path.is_file():  # finished by another runner since the first look
                return path
            best, argv, seconds = self._train_student(experiment, task, seed)
            keys = {"table": table, "row": experiment.label, "task": task, "seed": seed}
            keys["train_seconds"] = _training_seconds(best.parents[1])
            keys["mapping"] = self._mapping(experiment, task, best)
            record = self._record(path, keys, argv, best, task, seconds)
            self._write_card(best, record, experiment)
            if not self.keep_checkpoints:
                _drop_intermediate(best.parents[1])
        finally:
            lock.release()
        return path

    def run_tables(
        self,
        tables: tuple[str, ...],
        tasks: tuple[str, ...] | None = None,
        seeds: tuple[int, ...] | None = None,
    ) -> list[Path]:
        """Every row x task x seed of ``tables``, seed-major: a budget that runs out still
        leaves every table with complete first seeds. Returns the result files written or
        found (runs another runner holds are left to it)."""
        unknown = [table for table in tables if table not in TABLES]
        if unknown:
            raise DistillError(f"unknown tables {unknown}; use {sorted(TABLES)}")
        paths = []
        for seed in seeds or self.profile.seeds:
            for task in tasks or self.profile.tasks:
                for table in tables:
                    for experiment in TABLES[table]:
                        path = self.run(table, experiment, task, seed)
                        if path is not None:
                            paths.append(path)
        return paths

    def run_table(
        self, table: str, tasks: tuple[str, ...] | None = None, seeds: tuple[int, ...] | None = None
    ) -> list[Path]:
        """Every row x task x seed of one table (see :meth:`run_tables`)."""
        return self.run_tables((table,), tasks, seeds)

    def _lock(self, name: str) -> FileLock:
        path = self.work / "locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(path)

    @contextmanager
    def _building(self, piece: str) -> Iterator[None]:
        """Hold ``piece``'s lock: parallel runners build a shared piece once, the others
        wait for it and then find it finished."""
        with self._lock(piece):
            yield

    def status(self, tables: tuple[str, ...] = tuple(TABLES)) -> list[dict]:
        """Which result files exist, one entry per (table, row, task, seed)."""
        rows = []
        for table in tables:
            for experiment in TABLES[table]:
                for task in self.profile.tasks:
                    for seed in self.profile.seeds:
                        path = self.result_path(table, experiment, task, seed)
                        rows.append(
                            {
                                "table": table,
                                "row": experiment.label,
                                "task": task,
                                "seed": seed,
                                "done": path.is_file(),
                                "path": path,
                            }
                        )
        return rows

    def cache_bytes(self) -> int:
        """Disk taken by the teacher cache. It grows with every task, mapping and data
        variant (the CPU profile's four tasks filled 58 GB) and is rebuilt on demand, so a
        finished folder can drop it."""
        if not self.cache.is_dir():
            return 0
        return sum(path.stat().st_size for path in self.cache.rglob("*") if path.is_file())

    def _record(
        self, path: Path, keys: dict, argv: list[str], model: Path, task: str, seconds: float
    ) -> dict:
        """Score ``model`` on the task's dev split(s) and store the result with its recipe."""
        from transformers import AutoTokenizer

        from distill.evaluation import evaluate
        from distill.models import load_student

        metrics = evaluate(
            load_student(model, with_head=True, what="model"),
            get_task(task),
            AutoTokenizer.from_pretrained(model),
            self.data_dir,
        )
        selection = model / "selection.json"
        record = keys | {
            "metrics": metrics,
            "selected": json.loads(selection.read_text()) if selection.is_file() else None,
            "command": ["python", "-m", "distill", *self._portable(argv)],
            "profile": self.profile.describe(),
            "commit": self.commit,
            "wall_time_s": round(seconds, 1),
        }
        _write_json(path, record)
        return record

    def _mapping(self, experiment: Experiment, task: str, student: Path) -> list[int] | None:
        """The layer mapping ``[g(0), ..., g(M)]`` a run distilled with (``None`` without
        stage 1): the adaptive choice as the run saved it, else the strategy resolved."""
        if not experiment.intermediate:
            return None
        if experiment.mapping == ADAPTIVE:
            saved = student.parents[1] / MAPPING_FILE
            return json.loads(saved.read_text(encoding="utf-8"))["mapping"]
        layers = AutoConfig.from_pretrained(student).num_hidden_layers
        teacher_layers = AutoConfig.from_pretrained(self.teacher(task)).num_hidden_layers
        return layer_mapping(parse_mapping(experiment.mapping), layers, teacher_layers)

    def _write_card(self, model: Path, record: dict, experiment: Experiment | None = None) -> None:
        """The model card (``README.md``) of a finished model: what the record says, so a
        copied checkpoint still tells how it was made and how it scored."""
        task = record["task"]
        common = {
            "task": task,
            "base_model": self.pretrained_teacher(),
            "metrics": record["metrics"],
            "command": tuple(record["command"]),
            "commit": self.commit,
            "profile": self.profile.name,
        }
        if experiment is None:
            recipe = CardRecipe(
                kind="teacher",
                seed=0,
                learning_rates={"finetune": self.profile.finetune_lr},
                epochs={"finetune": per_task(self.profile.finetune_epochs, task)},
                **common,
            )
        else:
            from distill.cli import _objectives

            intermediate, prediction = _objectives(list(experiment.without))
            objectives = [o for o in INTERMEDIATE_OBJECTIVES if o in intermediate]
            objectives = (objectives if experiment.intermediate else []) + (
                ["pred"] if prediction else []
            )
            command = record["command"]
            recipe = CardRecipe(
                kind="student",
                seed=record["seed"],
                teacher=str(self.teacher(task)),
                student_preset=self.profile.student_preset,
                experiment=experiment.name,
                experiment_label=experiment.label,
                mapping=tuple(record["mapping"]) if record["mapping"] else None,
                objectives=tuple(objectives),
                learning_rates={
                    stage: float(command[command.index(f"--{stage}-lr") + 1])
                    for stage in ("stage1", "stage2")
                    if f"--{stage}-lr" in command
                },
                epochs={"stage2": self.profile.stage2_epochs},
                **common,
            )
        write_card(model, recipe, ROOT)

    def _portable(self, argv: list[str]) -> list[str]:
        """``argv`` with the paths of this machine made relative, so that a committed
        record reads the same in every clone: relative to the project root for files
        beside it (``../shared/...``, ``runs/...``), else to the work folder (``WORK/...``)."""
        portable = []
        for arg in argv:
            path = Path(arg)
            if path.is_absolute() and path.is_relative_to(ROOT.parent):
                arg = os.path.relpath(path, ROOT)
            elif path.is_absolute() and path.is_relative_to(self.work):
                arg = str(Path("WORK") / path.relative_to(self.work))
            portable.append(arg)
        return portable


def _recipe_changes(stored: dict, described: dict) -> list[str]:
    """The settings of ``described`` that would change a run made under ``stored``.

    The lists of tasks and seeds only choose runs, and a per-task setting may gain an
    entry for a task the stored profile did not have: neither changes a finished run.
    """
    new_tasks = set(described["tasks"]) - set(stored.get("tasks", ()))
    changed = []
    for key, value in described.items():
        # a setting added to Profile later is absent from older stamps: its default is
        # what those runs used
        before = stored.get(key, PROFILE_DEFAULTS.get(key))
        if key in ("tasks", "seeds") or before == value:
            continue
        if (
            isinstance(value, dict)
            and {k: v for k, v in value.items() if k not in new_tasks} == before
        ):
            continue
        changed.append(key)
    return sorted(changed)


def _canonical(table: str, experiment: Experiment) -> tuple[str, Experiment]:
    """A row that repeats the full configuration is Table 2's TinyBERT4 run."""
    if experiment.flags() == FULL.flags():
        return "table2", FULL
    return table, experiment


def _sample_tsv(source: Path, target: Path, header: bool, limit: int | None) -> None:
    """Copy ``source`` keeping a seeded sample of ``limit`` data lines in their order."""
    if not source.is_file():
        raise MissingInput(f"{source}: GLUE file not found")
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"  # CoLA's dev.tsv has no trailing newline
    head, body = (lines[:1], lines[1:]) if header else ([], lines)
    if limit is not None and limit < len(body):
        keep = sorted(random.Random(0).sample(range(len(body)), limit))
        body = [body[i] for i in keep]
    partial = target.with_suffix(".partial")
    partial.write_text("".join(head + body), encoding="utf-8")
    partial.replace(target)


def _drop_intermediate(run_folder: Path) -> None:
    """Free a finished run's disk: keep the selected student (``stage2/best``), the logs
    and configs; drop resume checkpoints, stage 1's student and stage 2's last-epoch copy
    (three 28 MB students a run on the cpu preset, 2.2 GB for a smoke reproduction)."""
    for stage in ("stage1", "stage2"):
        _drop_resume_state(run_folder / stage, keep_weights=False)


def _drop_resume_state(folder: Path, keep_weights: bool) -> None:
    """Remove a finished stage's resume checkpoints (and its final weights unless kept;
    ``config.json`` stays, as the sign that the stage finished)."""
    for name in ("checkpoint", "checkpoint.previous", "checkpoint.partial"):
        shutil.rmtree(folder / name, ignore_errors=True)
    if not keep_weights:
        for weights in folder.glob("*.safetensors"):
            weights.unlink()


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def _training_seconds(run_folder: Path) -> float | None:
    """Training time of a run's stages summed over every process that worked on them
    (resumed runs included), from their final checkpoints; ``None`` if not recorded."""
    total, found = 0.0, False
    for progress in run_folder.glob("stage*/checkpoint/progress.json"):
        seconds = json.loads(progress.read_text()).get("seconds")
        if seconds is not None:
            total, found = total + seconds, True
    return round(total, 1) if found else None


def _last_log(folder: Path) -> dict | None:
    log = folder / "log.jsonl"
    if not log.is_file():
        return None
    lines = log.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[-1]) if lines else None


def main(argv: list[str]) -> int:
    """``python -m distill experiments {run,prepare,status}``."""

    from distill.profiles import PROFILES, get_profile

    parser = OneLineParser(
        prog="python -m distill experiments",
        description="Run the paper's Tables 2-4 for a profile; finished runs are skipped and "
        "interrupted ones resume. Start one runner per core on the same folders to share "
        "the work.",
    )
    parser.add_argument(
        "action",
        choices=("run", "prepare", "status"),
        help="run the tables' runs; prepare only their shared pieces; status of the runs",
    )
    parser.add_argument("tables", nargs="*", default=list(TABLES), help="default: all tables")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    parser.add_argument("--tasks", help="comma-separated subset of the profile's tasks")
    parser.add_argument("--seeds", help="comma-separated subset of the profile's seeds")
    parser.add_argument("--work-dir", type=Path, help="checkpoints (default runs/<profile>)")
    parser.add_argument("--results-dir", type=Path, help="results (default results/<profile>)")
    parser.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep every finished run's resume checkpoints and intermediate students",
    )
    parser.add_argument(
        "--teacher-cache-max-gb",
        type=float,
        help="bound the teacher cache (stage-1 targets of every run; the cpu grid's reached "
        "58 GB unbounded); beyond it targets are recomputed, results unchanged",
    )
    args = parser.parse_args(argv)
    unknown = set(args.tables) - set(TABLES)
    if unknown:
        parser.error(f"unknown tables {sorted(unknown)}; use {sorted(TABLES)}")
    runner = Runner(
        get_profile(args.profile),
        args.work_dir,
        args.results_dir,
        args.keep_checkpoints,
        args.teacher_cache_max_gb,
    )
    if args.action == "status":
        rows = runner.status(tuple(args.tables))
        for row in rows:
            mark = "done" if row["done"] else "----"
            print(f"{mark}  {row['table']:<7} {row['row']:<10} {row['task']:<6} seed{row['seed']}")
        runs = {row["path"]: row["done"] for row in rows}  # a shared row is one run
        print(
            f"{sum(runs.values())}/{len(runs)} runs done "
            f"({sum(r['done'] for r in rows)}/{len(rows)} table cells: a row that repeats "
            "Table 2's TinyBERT4 run, such as Table 4's Uniform, shares it)"
        )
        print(
            f"teacher cache: {runner.cache_bytes() / 1e9:.1f} GB in {runner.cache} "
            "(rebuilt on demand; delete it once the runs are done)"
        )
        return 0
    tasks = tuple(args.tasks.split(",")) if args.tasks else None
    seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else None
    if args.action == "prepare":
        runner.prepare(tasks)
    else:
        runner.run_tables(tuple(args.tables), tasks, seeds)
    return 0
