"""``python -m distill {finetune,general,task,evaluate,experiments}``: the TinyBERT pipeline.

    python -m distill finetune --task rte --data-dir GLUE --model BERT --output-dir TEACHER
    python -m distill general --teacher BERT --corpus wiki.txt --output-dir GENERAL
    python -m distill task --task rte --data-dir GLUE --teacher TEACHER --student GENERAL \
        --augmented-train rte_aug.tsv --output-dir TINY      # final model in TINY/stage2
    python -m distill evaluate --task rte --data-dir GLUE --model TINY/stage2
    python -m distill experiments run table2 --profile cpu   # the paper's tables, resumable

Each command parses its flags into one spec of :mod:`distill.stages` and calls that stage;
every default is the spec's (the paper's, Sec. 4.2). Rerunning an interrupted command
resumes it. The same commands run under ``accelerate launch`` on GPUs, and on several CPU
processes with ``ACCELERATE_USE_CPU=1 torchrun --nproc_per_node 2 -m distill ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from distill import stages
from distill.adaptive_mapping import MAPPING_FILE
from distill.errors import (
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    DistillError,
    OneLineParser,
    report_user_errors,
)
from distill.experiments.ablations import EXPERIMENTS, TABLES
from distill.hub import quiet_loading
from distill.models import PROJECTION_MODES, STUDENT_PRESETS
from distill.stages import (
    OBJECTIVES,
    EvaluateSpec,
    FinetuneSpec,
    GeneralSpec,
    TaskSpec,
    nested_spec,
    spec_fields,
)
from distill.training import CLIPPING, LR_SCHEDULES


def _weights(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(weight) for weight in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list") from None


class _Options:
    """Adds a spec's settings as flags, each with the spec's default (written only there)."""

    def __init__(self, parser: argparse.ArgumentParser, spec_type: type):
        self.parser, self.fields = parser, spec_fields(spec_type)

    def add(self, name: str, **kwargs) -> None:
        default = self.fields[name].default
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            self.parser.add_argument(flag, action="store_true", **kwargs)
        elif kwargs.get("action") == "append":
            self.parser.add_argument(flag, default=list(default), **kwargs)
        elif default is MISSING:
            self.parser.add_argument(flag, required=True, **kwargs)
        else:
            self.parser.add_argument(flag, default=default, **kwargs)


def _loop_args(options: _Options, epochs_and_lr: bool = True) -> None:
    """Options every training command shares (``task`` has per-stage epochs and rates)."""
    options.add("output_dir", type=Path)
    if epochs_and_lr:
        options.add("epochs", type=POSITIVE)
        options.add("lr", type=POSITIVE)
    options.add("batch_size", type=POSITIVE_INT, help="global batch size")
    options.add("warmup", type=FRACTION, help="warm-up fraction of steps")
    options.add("grad_accum", type=POSITIVE_INT)
    options.add("weight_decay", type=NON_NEGATIVE, help="AdamW's, not on biases/LN")
    options.add("max_grad_norm", type=NON_NEGATIVE, help="0: no clipping")
    options.add("mixed_precision", choices=("no", "fp16", "bf16"))
    options.add("seed", type=int)
    options.add("log_every", type=POSITIVE_INT)
    options.add("save_every", type=POSITIVE_INT, help="checkpoint every N steps")
    options.add(
        "report_to",
        action="append",
        choices=("tensorboard",),
        help="also log to this tracker through Accelerate (OUTPUT_DIR/tracking)",
    )
    options.add(
        "clipping",
        choices=CLIPPING,
        help="gradient clipping at --max-grad-norm: of all gradients together (global) or of each "
        "parameter's gradient (per_tensor, the released TinyBERT code's BertAdam)",
    )
    options.add(
        "stop_after",
        type=POSITIVE_INT,
        help="stop a stage at step N with a resumable checkpoint (time-boxed jobs)",
    )


def _distill_args(options: _Options) -> None:
    options.add("teacher", help="hub name or local folder")
    options.add("student", type=Path, help="student folder to start from (task: the GD student)")
    options.add("student_preset", choices=sorted(STUDENT_PRESETS))
    options.add(
        "mapping",
        help="uniform, top, bottom, e.g. 3,6,9,12, or adaptive: the strictly increasing "
        "mapping with the highest hidden-state CKA between the starting student and the "
        f"teacher, saved to OUTPUT_DIR/{MAPPING_FILE} and reused when resuming",
    )
    options.add(
        "adaptive_sample",
        type=POSITIVE_INT,
        help="training examples (drawn with --seed) that --mapping adaptive measures CKA on",
    )
    options.add("without", action="append", choices=OBJECTIVES)
    options.add(
        "projection",
        choices=PROJECTION_MODES,
        help="W_e/W_h: paper = one W_e + one W_h shared by all layers; per-layer; released = "
        "one map for everything (the released fit_dense)",
    )
    options.add("padding", choices=("masked", "official"))
    options.add("layer_weights", type=_weights, help="comma-separated lambda_0..lambda_M of eq. 11")
    options.add(
        "teacher_cache",
        type=Path,
        help="folder caching the teacher's outputs (stage-1 targets in fp16, stage-2 logits); "
        "runs with the same teacher and data share it",
    )
    options.add(
        "teacher_cache_max_gb",
        type=POSITIVE,
        help="stop the teacher cache growing at this size (all of it, every run's targets); "
        "targets beyond it are recomputed each time, rounded as stored, so results do not "
        "change",
    )


def _data_args(options: _Options, train: bool = True) -> None:
    """Where the task's examples are: GLUE's layout, or files and datasets of any format
    distill.task_data reads, with their columns named."""
    options.add("data_dir", type=Path, help="GLUE's layout: DATA_DIR/<Task>/train.tsv, dev.tsv")
    sources = (
        "a .tsv/.csv/.parquet/.jsonl file, a save_to_disk folder[@SPLIT] or a hub "
        "NAME[:CONFIG]@SPLIT"
    )
    if train:
        options.add("train_file", help=f"training examples instead of DATA_DIR's: {sources}")
    options.add("dev_file", help=f"the dev set instead of DATA_DIR's: {sources}")
    options.add(
        "text_columns",
        type=_columns,
        help="comma-separated text column(s) of those sources (default: the task's names)",
    )
    options.add("label_column", help="label column of those sources (default: the task's)")


def _columns(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(","))


def _selection_args(options: _Options) -> None:
    options.add("select_metric", help="metric for model selection (default: task's)")
    options.add("select_split", help="split for model selection (default: first dev)")


def build_parser(experiment: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``experiment``, ``task``'s defaults are that table row's switches."""
    parser = OneLineParser(prog="python -m distill", description=__doc__)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show transformers' loading reports"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    finetune = _Options(
        commands.add_parser("finetune", help="fine-tune a teacher on a GLUE task"), FinetuneSpec
    )
    finetune.add("task")
    _data_args(finetune)
    finetune.add("model", help="pre-trained BERT: hub name or folder")
    finetune.add("max_length", type=POSITIVE_INT)
    _loop_args(finetune)
    _selection_args(finetune)

    general = _Options(
        commands.add_parser("general", help="general distillation on a text corpus"), GeneralSpec
    )
    general.add("corpus", type=Path)
    general.add("max_length", type=POSITIVE_INT)
    general.add("max_lines", type=POSITIVE_INT, help="read only the first N corpus lines")
    _distill_args(general)
    _loop_args(general)

    task_parser = commands.add_parser("task", help="task-specific distillation (two stages)")
    task = _Options(task_parser, TaskSpec)
    task.add("task")
    _data_args(task)
    task.add(
        "augmented_train",
        help="augmented training set (python -m augment's output; any format above)",
    )
    task.add("max_length", type=POSITIVE_INT)
    task.add("random_init", help="w/o GD: random student")
    task.add("no_intermediate", help="w/o TD: skip stage 1")
    task.add("no_augmentation", help="w/o DA: original train")
    task.add("temperature", type=POSITIVE)
    task.add(
        "stage1_epochs",
        type=POSITIVE,
        help="default: the paper's for the task (20; 10 for MNLI, QQP, QNLI; 50 for CoLA)",
    )
    task.add("stage2_epochs", type=POSITIVE)
    task.add("stage1_lr", type=POSITIVE)
    task.add("stage2_lr", type=POSITIVE)
    task.add(
        "stage1_schedule",
        choices=LR_SCHEDULES,
        help="stage 1's learning-rate schedule: constant as the released code (its "
        "schedule='none'), or linear warm-up and decay as stage 2",
    )
    task_parser.add_argument(
        "--experiment",
        choices=PAPER_ROWS,
        help="a paper ablation: its switches become the defaults of the flags above",
    )
    _distill_args(task)
    _loop_args(task, epochs_and_lr=False)
    _selection_args(task)
    if experiment is not None:
        task_parser.set_defaults(**_as_flag_values(EXPERIMENTS[experiment].settings()))

    commands.add_parser(
        "experiments",
        help="run the paper's Tables 2-4 for a profile (see: experiments --help)",
        add_help=False,
    )

    evaluate = _Options(
        commands.add_parser("evaluate", help="GLUE dev metrics of a model"), EvaluateSpec
    )
    evaluate.add("task")
    _data_args(evaluate, train=False)
    evaluate.add("model", type=Path)
    evaluate.add("split", action="append", help="default: the task's dev splits")
    evaluate.add("batch_size", type=POSITIVE_INT)
    evaluate.add("max_length", type=POSITIVE_INT)
    evaluate.add("output", type=Path, help="also write the metrics as JSON here")
    evaluate.add(
        "predictions",
        type=Path,
        help="also write each dev example's predicted and gold label here (JSON, file order)",
    )
    return parser


PAPER_ROWS = sorted(e.name for rows in TABLES.values() for e in rows)


def _as_flag_values(settings: dict[str, object]) -> dict[str, object]:
    """Spec values as argparse stores them (lists for repeated flags)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


SPECS = {"finetune": FinetuneSpec, "general": GeneralSpec, "task": TaskSpec}
SPECS["evaluate"] = EvaluateSpec


def spec_from_args(args: argparse.Namespace):
    """The command's spec, from the parsed flags (one spec field per flag)."""
    return _build(SPECS[args.command], vars(args))


def _build(spec_type: type, values: dict):
    kwargs = {}
    for spec_field in fields(spec_type):
        nested = nested_spec(spec_field)
        if nested is not None:
            kwargs[spec_field.name] = _build(nested, values)
        elif spec_field.name in values:
            value = values[spec_field.name]
            kwargs[spec_field.name] = tuple(value) if isinstance(value, list) else value
    return spec_type(**kwargs)


def parse(argv: list[str]):
    """``argv`` as (spec, verbose). ``--experiment`` is read first, so that its switches
    are the defaults of the flags and explicit flags override them."""
    probe = OneLineParser(prog="python -m distill task", add_help=False)
    probe.add_argument("--experiment", choices=PAPER_ROWS)
    known, _ = probe.parse_known_args(argv if "task" in argv else [])
    args = build_parser(known.experiment).parse_args(argv)
    if args.command == "experiments":  # python -m distill dispatches it to the runner
        raise DistillError("run the tables with: python -m distill experiments ...")
    return spec_from_args(args), args.verbose


RUN = {
    FinetuneSpec: stages.finetune,
    GeneralSpec: stages.general,
    TaskSpec: stages.task,
    EvaluateSpec: stages.evaluate,
}


def main(argv: list[str] | None = None) -> None:
    """Run one command; a user error is one line on stderr and exit status 2."""
    argv = sys.argv[1:] if argv is None else argv
    report_user_errors(lambda: _run(argv))


def _run(argv: list[str]) -> None:
    spec, verbose = parse(argv)
    quiet_loading(verbose)
    result = RUN[type(spec)](spec)
    if isinstance(spec, EvaluateSpec):
        print(json.dumps(result, indent=2))
