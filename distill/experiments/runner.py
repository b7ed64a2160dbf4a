"""The experiment runner: every run of Tables 2-4 for a profile, resumable, with results.

    python -m distill experiments run table3 --profile cpu
    python -m distill experiments status --profile cpu

A table run needs pieces shared between its rows, built once and reused:

    data (task)        GLUE train/dev copied, reduced as the profile says -> work/glue/
    teacher (task)     the pre-trained teacher fine-tuned on the task     -> work/teacher/
    general            general distillation of the student on the corpus  -> work/general/
    augmented (task)   Algorithm 1 on the training set                    -> work/augment/
    run (row, task, seed)  task distillation with the row's switches      -> work/runs/

Every piece is a stage of :mod:`distill.stages` (or :func:`augment.api.augment`) called
with a spec built from the profile and the table row, so an interrupted piece resumes from
its own checkpoint when the runner is started again; finished pieces are recognised by
their final files and skipped. Teacher outputs are cached and shared by all rows with the
same teacher, data and mapping. Each finished run writes a
:class:`~distill.experiments.layout.RunRecord` (``results/<profile>/<table>/<row>/<task>/
seed<k>.json``, paths in :mod:`distill.experiments.layout`) with its metrics, the command
that trains it, what it used, profile, commit and time; the teachers', augmentation's and
general distillation's records go beside them.

Several runners may share one work folder (e.g. one per CPU core): each shared piece is
built under a lock by the first runner that needs it while the others wait, and a run that
another runner is training is skipped, so the runners split the remaining runs between them.

Seeds vary task distillation (student head, data order, dropout); the fine-tuned teacher,
the general-distilled student and the augmented data are shared by all seeds of a row.
Table 3's "TinyBERT4" and Table 4's "Uniform" rows are the same run as Table 2's, as in
the paper; they are run (and stored) once, under Table 2 (:func:`layout.canonical`).
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from filelock import FileLock, Timeout

from augment.api import AugmentSettings, AugmentSpec, augment
from augment.atomic import write_json_atomically, write_text_atomically
from distill import stages
from distill.checkpoints import file_sha256
from distill.errors import POSITIVE, POSITIVE_INT, DistillError, MissingInput, OneLineParser
from distill.experiments.ablations import ROWS, STUDIES, TABLES, Experiment
from distill.experiments.layout import (
    ResultsLayout,
    RunRecord,
    WorkLayout,
    augment_name,
    canonical,
    general_name,
)
from distill.experiments.profiles import (
    BEST_LOCAL_MLM,
    PIP_MINILM,
    PROFILE_DEFAULTS,
    PROFILES,
    ROOT,
    SHARED_MODEL,
    TINY_RANDOM,
    Profile,
    get_profile,
    per_task,
)
from distill.glue import get_task
from distill.hub import MINILM, quiet_loading
from distill.model_card import CardRecipe, write_card
from distill.stages import (
    DistillOptions,
    EvaluateSpec,
    FinetuneSpec,
    GeneralSpec,
    TaskResult,
    TaskSpec,
    to_argv,
)
from distill.task_data import TaskData
from distill.training import LoopOptions

logger = logging.getLogger(__name__)

CODE_PATHS = ("augment", "distill", "analysis", "pyproject.toml")
SHARED_MODELS = ROOT.parent / "shared" / "assets" / "models"
SHARED_MLM = SHARED_MODELS / "minilm-wiki-mlm"


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


class Runner:
    """Builds the pieces of a profile's tables under ``work_dir`` and stores results.

    Defaults: ``runs/<profile>`` for checkpoints (never committed) and ``results/<profile>``
    for results (committed), or ``WORK/results`` for a profile that does not publish them
    (``smoke``). The profile is stamped into both folders when the first piece is built.
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
        work = Path(work_dir or ROOT / "runs" / profile.name)
        published = ROOT / "results" / profile.name
        self.layout = WorkLayout(work)
        self.results = ResultsLayout(
            Path(results_dir or (published if profile.publish_results else work / "results"))
        )
        # The code this process runs is the code checked out when it started; later
        # commits or edits must not be credited with its results.
        self.commit = git_commit()
        self.keep_checkpoints = keep_checkpoints
        self.cache_max_gb = cache_max_gb
        self._stamped = False

    @property
    def work(self) -> Path:
        return self.layout.work

    @property
    def results_dir(self) -> Path:
        return self.results.results

    def check_profile(self) -> None:
        """Refuse to mix pieces or results of two different profiles in one folder.

        Checked before anything is built, not when a finished piece is only read. A folder
        may grow by a task or a seed (see :func:`_recipe_changes`); its stamp then records
        the profile as it is now.
        """
        if self._stamped:
            return
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
            write_json_atomically(stamp, described)
        self._stamped = True

    def _loop(self, seed: int, batch_size: int | None = None) -> LoopOptions:
        return LoopOptions(
            batch_size=batch_size or self.profile.batch_size,
            seed=seed,
            clipping=self.profile.clipping,
        )

    # ---- shared pieces -------------------------------------------------------------

    def pretrained_teacher(self, name: str | None = None) -> str:
        """A pre-trained (not fine-tuned) teacher as a hub name or local folder: the
        profile's, or ``name`` (one of its alternatives)."""
        name = name or self.profile.teacher
        if name == PIP_MINILM:
            return MINILM
        if name == TINY_RANDOM:
            return str(self._tiny_model(self.work / "tiny-teacher", masked_lm=False))
        if name.startswith(SHARED_MODEL):
            return str(SHARED_MODELS / name.removeprefix(SHARED_MODEL))
        return name

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
        """The GLUE folder (``WORK/glue``) with the task's training (and, for smoke, dev)
        sets reduced as profiled."""
        task = get_task(task_name)
        source, target = self.profile.glue_dir / task.directory, self.layout.glue / task.directory
        if (target / "done").is_file():
            return self.layout.glue
        with self._building(f"data-{task.name}"):
            if (target / "done").is_file():
                return self.layout.glue
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
        return self.layout.glue

    def teacher(self, task_name: str) -> Path:
        """The fine-tuned teacher (best dev checkpoint); its dev metrics go to results. With
        alternatives in the profile, see :meth:`_chosen_teacher`."""
        if self.profile.teacher_alternatives:
            return self._chosen_teacher(task_name)
        folder = self.layout.teacher(task_name)
        if not (folder / "config.json").is_file():
            with self._building(f"teacher-{task_name}"):
                if not (folder / "config.json").is_file():
                    record = self._fine_tuned(task_name, self.profile.teacher, 0)
                    write_json_atomically(self.results.teacher_record(task_name), record)
        return folder / "best"

    def _chosen_teacher(self, task_name: str) -> Path:
        """Each pre-trained candidate (the profile's teacher, then its alternatives)
        fine-tuned; the teacher is the one with the best dev score on the task (ties: the
        first), and the task's record lists every candidate's scores."""
        choice = self.layout.teacher_choice(task_name)
        if not choice.is_file():
            with self._building(f"teacher-{task_name}"):
                if not choice.is_file():
                    names = (self.profile.teacher, *self.profile.teacher_alternatives)
                    records = [self._fine_tuned(task_name, name, i) for i, name in enumerate(names)]
                    task = get_task(task_name)
                    metric = f"{task.dev_splits[0]}/{task.metric}"
                    best = max(range(len(records)), key=lambda i: records[i]["metrics"][metric])
                    record = records[best] | {
                        "candidates": records,
                        "chosen_by": metric,
                        "wall_time_s": round(sum(r["wall_time_s"] for r in records), 1),
                    }
                    write_json_atomically(self.results.teacher_record(task_name), record)
                    folder = self.layout.teacher(task_name, best) / "best"
                    write_json_atomically(choice, {"teacher": str(folder.relative_to(self.work))})
        return self.work / json.loads(choice.read_text(encoding="utf-8"))["teacher"]

    def _fine_tuned(self, task_name: str, name: str, candidate: int) -> dict:
        """Fine-tune one pre-trained candidate (or find it fine-tuned) and score it."""
        folder = self.layout.teacher(task_name, candidate)
        record_file = folder / "record.json"
        if record_file.is_file():
            return json.loads(record_file.read_text(encoding="utf-8"))
        spec = FinetuneSpec(
            task=task_name,
            data=TaskData(data_dir=self.data(task_name)),
            model=self.pretrained_teacher(name),
            output_dir=folder,
            epochs=per_task(self.profile.finetune_epochs, task_name),
            lr=self.profile.finetune_lr,
            loop=self._loop(seed=0),
        )
        started = time.time()
        self._call(stages.finetune, spec)
        keys = {
            "task": task_name,
            "model": self._portable([self.pretrained_teacher(name)])[0],
            "train_seconds": _training_seconds(folder, stages=""),
        }
        record = self._scored(keys, spec, folder / "best", time.time() - started)
        self._write_card(folder / "best", record, spec)
        if not self.keep_checkpoints:
            _drop_resume_state(folder, keep_weights=False)  # the teacher is best/
        write_json_atomically(record_file, record)
        return record

    def general(self, without: tuple[str, ...] = ()) -> Path:
        """The general-distilled student, shared by the rows that start from it: the full
        one, or with the objectives in ``without`` left out (the paper's "w/o Trm" row
        starts from an embedding-only general distillation, footnote 11)."""
        folder = self.layout.general(without)
        if (folder / "config.json").is_file():
            return folder
        with self._building(general_name(without)):
            if (folder / "config.json").is_file():
                return folder
            spec = GeneralSpec(
                corpus=self.profile.corpus,
                output_dir=folder,
                distill=DistillOptions(
                    teacher=self.pretrained_teacher(),
                    student_preset=self.profile.student_preset,
                    without=without,
                    projection=self.profile.projection,
                    padding=self.profile.padding,
                ),
                max_length=self.profile.general_max_length,
                max_lines=self.profile.general_max_lines,
                epochs=self.profile.general_epochs,
                lr=self.profile.general_lr,
                loop=self._loop(seed=0, batch_size=self.profile.general_batch_size),
            )
            started = time.time()
            result = self._call(stages.general, spec)
            seconds = _training_seconds(folder, stages="")
            if not self.keep_checkpoints:
                _drop_resume_state(folder, keep_weights=True)
            record = {
                "command": self._command(spec),
                "examples": result.examples,
                "train_seconds": seconds,
                "profile": self.profile.describe(),
                "commit": self.commit,
                "wall_time_s": round(time.time() - started, 1),
                "final_log": _last_log(folder),
            }
            write_json_atomically(self.results.general_record(without), record)
        return folder

    def augmented(self, task_name: str, n_a_scale: int = 1) -> Path:
        """The task's training set augmented by Algorithm 1 (with ``n_a_scale`` times the
        profile's N_a for a study row)."""
        output = self.layout.augmented(task_name, n_a_scale)
        if output.is_file():
            return output
        with self._building(f"augment-{augment_name(task_name, n_a_scale)}"):
            if output.is_file():
                return output
            train = self.data(task_name) / get_task(task_name).directory / "train.tsv"
            settings = AugmentSettings(
                p_t=self.profile.p_t,
                n_a=per_task(self.profile.n_a, task_name) * n_a_scale,
                k=self.profile.k,
                clean=self.profile.candidates == "clean",
            )
            spec = AugmentSpec(
                input=train,
                output=output,
                task=get_task(task_name).name,
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
                "sha256": file_sha256(output),  # a set made again can be shown the same
            }
            write_json_atomically(self.results.augment_record(task_name, n_a_scale), record)
        return output

    def prepare(
        self, tables: tuple[str, ...] = tuple(TABLES), tasks: tuple[str, ...] | None = None
    ) -> None:
        """Build every shared piece the rows of ``tables`` need: each task's teacher and
        augmented sets, then the general-distilled students (e.g. on one core while another
        runner trains)."""
        experiments = [experiment for table in tables for experiment in ROWS[table]]
        scales = sorted({e.n_a_scale for e in experiments if e.augmentation})
        for task in tasks or self.profile.tasks:
            self.teacher(task)
            for n_a_scale in scales:
                self.augmented(task, n_a_scale)
        starts = {e.general_without for e in experiments if e.general_distillation}
        for without in sorted(starts):
            self.general(without)

    # ---- runs ----------------------------------------------------------------------

    def result_path(self, table: str, experiment: Experiment, task: str, seed: int) -> Path:
        return self.results.result(table, experiment, task, seed)

    def student(self, experiment: Experiment, task_name: str, seed: int) -> Path:
        """Task distillation for one row/task/seed; returns the selected final student."""
        spec = self.task_spec(experiment, task_name, seed)
        if not (spec.output_dir / "stage2" / "config.json").is_file():
            self.check_profile()
            self._call(stages.task, spec)
        return spec.output_dir / "stage2" / "best"

    def task_spec(self, experiment: Experiment, task_name: str, seed: int) -> TaskSpec:
        """The spec of one run, from the profile and the row (building the pieces it needs:
        the task's own first, so that a parallel runner prepares them while another builds
        the general-distilled student)."""
        augmented = (
            self.augmented(task_name, experiment.n_a_scale) if experiment.augmentation else None
        )
        data_dir, teacher = self.data(task_name), self.teacher(task_name)
        student = (
            self.general(experiment.general_without) if experiment.general_distillation else None
        )
        base = TaskSpec(
            task=task_name,
            data=TaskData(data_dir=data_dir),
            output_dir=self.layout.run(experiment, task_name, seed),
            distill=DistillOptions(
                teacher=str(teacher),
                student=student,
                student_preset=self.profile.student_preset,
                projection=self.profile.projection,
                padding=self.profile.padding,
                teacher_cache=self.layout.teacher_cache,
                teacher_cache_max_gb=self.cache_max_gb,
            ),
            augmented_train=None if augmented is None else str(augmented),
            temperature=self.profile.temperature,
            stage1_epochs=self.stage1_epochs(task_name),
            stage2_epochs=self.profile.stage2_epochs,
            stage1_lr=self.profile.stage1_lr,
            stage2_lr=self.profile.stage2_lr,
            stage1_schedule=self.profile.stage1_schedule,
            loop=self._loop(seed),
        )
        return experiment.apply(base)

    def stage1_epochs(self, task_name: str) -> float:
        """The profile's stage-1 epochs for the task: its one number, else the paper's for
        the task times the profile's scale."""
        if self.profile.stage1_epochs is not None:
            return self.profile.stage1_epochs
        return get_task(task_name).stage1_epochs * self.profile.stage1_epochs_scale

    def run(self, table: str, experiment: Experiment, task: str, seed: int) -> Path | None:
        """One result file: kept when it exists, else trained (or resumed) and scored.

        ``None`` when another runner is training this run right now.
        """
        path = self.result_path(table, experiment, task, seed)
        if path.is_file():
            return path
        table, experiment = canonical(table, experiment)
        lock = FileLock(self._lock_path(f"run-{experiment.name}-{task}-seed{seed}"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            logger.info("%s %s seed %d: another runner is on it, skipped", table, task, seed)
            return None
        try:
            if path.is_file():  # finished by another runner since the first look
                return path
            spec = self.task_spec(experiment, task, seed)
            self.check_profile()
            started = time.time()
            result = self._call(stages.task, spec)
            keys = {
                "table": table,
                "row": experiment.label,
                "task": task,
                "seed": seed,
                "mapping": result.mapping,
                "settings": _settings(spec, result),
                "train_seconds": _training_seconds(spec.output_dir),
                "teacher_cache_bytes": self.cache_bytes(),
            }
            record = self._scored(keys, spec, result.model, time.time() - started)
            RunRecord(**record).write(path)
            self._write_card(result.model, record, spec, experiment)
            if not self.keep_checkpoints:
                _drop_intermediate(spec.output_dir)
            self.release_teacher_caches()
        finally:
            lock.release()
        return path

    def release_teacher_caches(self) -> list[Path]:
        """Delete the teacher-cache folders built from a training set that no unfinished
        run of the profile reads (a task's N_a-study set once its last seed is done, every
        set once the grid is), so that the bounded cache holds what later runs still read.
        A run in progress has no result yet, so another runner's sets stay. Returns the
        folders deleted."""
        needed = {
            str(self._training_set(experiment, task).resolve())
            for table, rows in ROWS.items()
            for experiment in rows
            for task in self.profile.tasks
            for seed in self.profile.seeds
            if not self.result_path(table, experiment, task, seed).is_file()
        }
        released = []
        for meta in sorted(self.layout.teacher_cache.glob("*/meta.json")):
            train = json.loads(meta.read_text()).get("train")
            if isinstance(train, list) and train and train[0] not in needed:
                shutil.rmtree(meta.parent, ignore_errors=True)
                released.append(meta.parent)
        return released

    def _training_set(self, experiment: Experiment, task: str) -> Path:
        """The file a run's distillation stages train on (its teacher targets' source)."""
        if experiment.augmentation:
            return self.layout.augmented(task, experiment.n_a_scale)
        return self.layout.glue / get_task(task).directory / "train.tsv"

    def run_tables(
        self,
        tables: tuple[str, ...],
        tasks: tuple[str, ...] | None = None,
        seeds: tuple[int, ...] | None = None,
    ) -> list[Path]:
        """Every row x task x seed of ``tables``, seed-major: a budget that runs out still
        leaves every table with complete first seeds. Returns the result files written or
        found (runs another runner holds are left to it)."""
        unknown = [table for table in tables if table not in ROWS]
        if unknown:
            raise DistillError(f"unknown tables {unknown}; use {sorted(ROWS)}")
        paths = []
        for seed in seeds or self.profile.seeds:
            for task in tasks or self.profile.tasks:
                for table in tables:
                    for experiment in ROWS[table]:
                        path = self.run(table, experiment, task, seed)
                        if path is not None:
                            paths.append(path)
        return paths

    def run_table(
        self, table: str, tasks: tuple[str, ...] | None = None, seeds: tuple[int, ...] | None = None
    ) -> list[Path]:
        """Every row x task x seed of one table (see :meth:`run_tables`)."""
        return self.run_tables((table,), tasks, seeds)

    def _lock_path(self, name: str) -> Path:
        path = self.layout.lock(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    @contextmanager
    def _building(self, piece: str) -> Iterator[None]:
        """Hold ``piece``'s lock: parallel runners build a shared piece once, the others
        wait for it and then find it finished. The profile is checked first."""
        self.check_profile()
        with FileLock(self._lock_path(piece)):
            yield

    def _call(self, stage, spec):
        """Run a stage, logging the command that does the same."""
        logger.info("python -m distill %s", " ".join(to_argv(spec)))
        return stage(spec)

    def status(self, tables: tuple[str, ...] = tuple(TABLES)) -> list[dict]:
        """Which result files exist, one entry per (table, row, task, seed)."""
        rows = []
        for table in tables:
            for experiment in ROWS[table]:
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
        cache = self.layout.teacher_cache
        if not cache.is_dir():
            return 0
        return sum(path.stat().st_size for path in cache.rglob("*") if path.is_file())

    def _command(self, spec) -> list[str]:
        return ["python", "-m", "distill", *self._portable(to_argv(spec))]

    def _scored(self, keys: dict, spec, model: Path, seconds: float) -> dict:
        """``keys`` with the model's dev metrics (the task's dev split(s)) and its recipe."""
        predictions = spec.output_dir / "dev_predictions.json"
        metrics = stages.evaluate(
            EvaluateSpec(
                task=keys["task"],
                model=model,
                data_dir=spec.data.data_dir,
                predictions=predictions,
            )
        )
        selection = model / "selection.json"
        return keys | {
            "metrics": metrics,
            "predictions": _compact_predictions(json.loads(predictions.read_text())),
            "selected": json.loads(selection.read_text()) if selection.is_file() else None,
            "command": self._command(spec),
            "profile": self.profile.describe(),
            "commit": self.commit,
            "wall_time_s": round(seconds, 1),
        }

    def _write_card(
        self, model: Path, record: dict, spec, experiment: Experiment | None = None
    ) -> None:
        """The model card (``README.md``) of a finished model: what the record says, so a
        copied checkpoint still tells how it was made and how it scored."""
        task = record["task"]
        common = {
            "task": task,
            "base_model": spec.model if experiment is None else self.pretrained_teacher(),
            "metrics": record["metrics"],
            "command": tuple(record["command"]),
            "commit": self.commit,
            "profile": self.profile.name,
        }
        if experiment is None:
            recipe = CardRecipe(
                kind="teacher",
                seed=spec.loop.seed,
                learning_rates={"finetune": spec.lr},
                epochs={"finetune": spec.epochs},
                **common,
            )
        else:
            settings = record["settings"]
            intermediate = settings["stage1_epochs"] is not None
            recipe = CardRecipe(
                kind="student",
                seed=record["seed"],
                teacher=str(self.teacher(task)),
                student_preset=self.profile.student_preset,
                experiment=experiment.name,
                experiment_label=experiment.label,
                mapping=tuple(record["mapping"]) if record["mapping"] else None,
                objectives=tuple(settings["objectives"]),
                learning_rates=(
                    {"stage1": spec.stage1_lr, "stage2": spec.stage2_lr}
                    if intermediate
                    else {"stage2": spec.stage2_lr}
                ),
                epochs=(
                    {"stage1": settings["stage1_epochs"], "stage2": spec.stage2_epochs}
                    if intermediate
                    else {"stage2": spec.stage2_epochs}
                ),
                **common,
            )
        write_card(model, recipe, ROOT)

    def _portable(self, argv: list[str]) -> list[str]:
        """``argv`` with the paths of this machine made relative, so that a committed
        record reads the same in every clone: relative to the work folder (``WORK/...``)
        for its files, else to the project root for files beside it (``../shared/...``,
        ``runs/...``); the work folder first, as it may itself lie beside the project."""
        portable = []
        for arg in argv:
            path = Path(arg)
            if path.is_absolute() and path.is_relative_to(self.work):
                arg = str(Path("WORK") / path.relative_to(self.work))
            elif path.is_absolute() and path.is_relative_to(ROOT.parent):
                arg = os.path.relpath(path, ROOT)
            portable.append(arg)
        return portable


def _compact_predictions(labelled: dict[str, dict[str, list]]) -> dict[str, dict[str, str]] | None:
    """A classifier's dev predictions for its record: per split, the predicted and the gold
    class of each example in file order as one string of class indices (``"0110..."``), so
    that the analysis can bootstrap over dev examples from the records alone. ``None`` for
    regression, whose scores do not fit one character each."""
    compact = {}
    for split, columns in labelled.items():
        values = [*columns["predicted"], *columns["gold"]]
        if not all(isinstance(value, int) and 0 <= value < 10 for value in values):
            return None
        compact[split] = {name: "".join(map(str, column)) for name, column in columns.items()}
    return compact


def _settings(spec: TaskSpec, result: TaskResult) -> dict:
    """What a run used, beside its command: the resolved choices and the data sizes."""
    return {
        "objectives": list(result.objectives),
        "temperature": spec.temperature,
        "projection": spec.distill.projection,
        "padding": spec.distill.padding,
        "stage1_epochs": result.stage1_epochs,
        "stage2_epochs": spec.stage2_epochs,
        "stage1_lr": spec.stage1_lr if result.stage1_epochs is not None else None,
        "stage2_lr": spec.stage2_lr,
        "stage1_schedule": spec.stage1_schedule,
        "batch_size": spec.loop.batch_size,
        "clipping": spec.loop.clipping,
        "stage1_examples": result.stage1_examples,
        "stage2_examples": result.stage2_examples,
    }


def _recipe_changes(stored: dict, described: dict) -> list[str]:
    """The settings of ``described`` that would change a run made under ``stored``.

    The lists of tasks and seeds only choose runs, the name and where the results go
    change no run (a grid made under a trial name can become a published profile's), and
    a per-task setting may gain an entry for a task the stored profile did not have: none
    of these changes a finished run.
    """
    new_tasks = set(described["tasks"]) - set(stored.get("tasks", ()))
    changed = []
    for key, value in described.items():
        # a setting added to Profile later is absent from older stamps: its default is
        # what those runs used
        before = stored.get(key, PROFILE_DEFAULTS.get(key))
        if key in ("name", "tasks", "seeds", "publish_results") or before == value:
            continue
        if (
            isinstance(value, dict)
            and {k: v for k, v in value.items() if k not in new_tasks} == before
        ):
            continue
        changed.append(key)
    return sorted(changed)


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
    write_text_atomically(target, "".join(head + body))


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


def _training_seconds(folder: Path, stages: str = "stage*/") -> float | None:
    """Training time of a folder's stages (a task run's ``stage1/``, ``stage2/``; with
    ``stages=""`` the folder's own) summed over every process that worked on them (resumed
    runs included), from their final checkpoints; ``None`` if not recorded."""
    total, found = 0.0, False
    for progress in folder.glob(f"{stages}checkpoint/progress.json"):
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


def _run_workers(argv: list[str], workers: int) -> int:
    """The same command as ``workers`` runner processes on the same folders, each with its
    share of the CPU's threads; they split the runs through the runner's locks. Returns the
    worst exit status."""
    alone = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            alone.append(arg)
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    env = os.environ | {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    command = [sys.executable, "-m", "distill", "experiments", *alone]
    logger.info("%d runners, %s thread(s) each: %s", workers, threads, " ".join(command))
    children = [subprocess.Popen(command, env=env) for _ in range(workers)]
    return max(child.wait() for child in children)


def main(argv: list[str]) -> int:
    """``python -m distill experiments {run,prepare,status}``."""

    parser = OneLineParser(
        prog="python -m distill experiments",
        description="Run the paper's Tables 2-4 for a profile; finished runs are skipped and "
        "interrupted ones resume. Start one runner per core on the same folders to share "
        "the work.",
    )
    parser.add_argument(
        "action",
        choices=("run", "prepare", "status"),
        help="run the tables' runs; prepare only the shared pieces they need; status of the runs",
    )
    parser.add_argument(
        "tables",
        nargs="*",
        default=list(TABLES),
        help=f"default: the paper's {', '.join(TABLES)}; also {', '.join(STUDIES)}",
    )
    parser.add_argument(
        "--profile",
        default="cpu",
        help=f"a shipped profile ({', '.join(sorted(PROFILES))}) or a profile file (.toml; "
        "copy one from profiles/)",
    )
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
        type=POSITIVE,
        help="bound the teacher cache (stage-1 targets of every run; the cpu grid's reached "
        "58 GB unbounded); beyond it targets are recomputed, results unchanged",
    )
    parser.add_argument(
        "--workers",
        type=POSITIVE_INT,
        default=1,
        help="runner processes sharing the runs, the CPU's threads split between them (a "
        "2-core CPU trains faster as two 1-thread runners than as one 2-thread runner)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show transformers' loading reports"
    )
    args = parser.parse_args(argv)
    unknown = set(args.tables) - set(ROWS)
    if unknown:
        parser.error(f"unknown tables {sorted(unknown)}; use {sorted(ROWS)}")
    profile = get_profile(args.profile)  # a bad profile is refused before any worker starts
    if args.workers > 1 and args.action != "status":
        return _run_workers(argv, args.workers)
    quiet_loading(args.verbose)
    runner = Runner(
        profile,
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
            f"teacher cache: {runner.cache_bytes() / 1e9:.1f} GB in {runner.layout.teacher_cache} "
            "(rebuilt on demand; delete it once the runs are done)"
        )
        return 0
    tasks = tuple(args.tasks.split(",")) if args.tasks else None
    seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else None
    if args.action == "prepare":
        runner.prepare(tuple(args.tables), tasks)
    else:
        runner.run_tables(tuple(args.tables), tasks, seeds)
    return 0
