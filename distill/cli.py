"""``python -m distill {finetune,general,task,evaluate,experiments}``: the TinyBERT pipeline.

    python -m distill finetune --task rte --data-dir GLUE --model BERT --output-dir TEACHER
    python -m distill general --teacher BERT --corpus wiki.txt --output-dir GENERAL
    python -m distill task --task rte --data-dir GLUE --teacher TEACHER --student GENERAL \
        --augmented-train rte_aug.tsv --output-dir TINY      # final model in TINY/stage2
    python -m distill evaluate --task rte --data-dir GLUE --model TINY/stage2
    python -m distill experiments run table2 --profile cpu   # the paper's tables, resumable

Paper defaults (Sec. 4.2) are the defaults here; every one can be overridden. Arguments
left at ``None`` are filled from the task (max length, stage-1 epochs) so per-task
defaults apply unless given explicitly. Rerunning an interrupted command resumes it.
The same commands run under ``accelerate launch`` on GPUs, and on several CPU processes
with ``ACCELERATE_USE_CPU=1 torchrun --nproc_per_node 2 -m distill ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path

from accelerate.utils import set_seed
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel
from transformers.utils import logging as transformers_logging

from distill.adaptive_mapping import MAPPING_FILE, adaptive_mapping
from distill.corpus import pack_corpus
from distill.distiller import (
    INTERMEDIATE_OBJECTIVES,
    IntermediateDistiller,
    prediction_step,
    teacher_logits,
)
from distill.errors import DistillError, OneLineParser, report_user_errors
from distill.evaluation import evaluate
from distill.experiments import EXPERIMENTS
from distill.glue import (
    GlueDataset,
    Task,
    check_label_order,
    collator,
    data_file,
    get_task,
    read_tsv,
)
from distill.hub import resolve_model
from distill.mapping import ADAPTIVE, layer_mapping, parse_mapping
from distill.models import (
    PROJECTION_MODES,
    STUDENT_PRESETS,
    load_student,
    load_teacher,
    new_student,
)
from distill.teacher_cache import TeacherCache, cached_logits, estimated_bytes
from distill.training import CLIPPING, LR_SCHEDULES, TrainConfig, train

OBJECTIVES = ("embd", "attn", "hidn", "trm", "pred")


def _number(kind: type, low: float, low_inclusive: bool, high: float | None = None):
    """An argparse type for ``kind`` values in a range, so that a bad number is refused
    before any folder is made or model loaded (``--batch-size 0`` used to divide by zero)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if (
            value < low
            or (value == low and not low_inclusive)
            or (high is not None and value >= high)
        ):
            bound = f">= {low}" if low_inclusive else f"> {low}"
            if high is not None:
                bound += f" and < {high}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {bound}")
        return value

    return parse


POSITIVE_INT = _number(int, 1, True)
POSITIVE = _number(float, 0, False)
FRACTION = _number(float, 0, True, 1)


def _training_args(
    parser: argparse.ArgumentParser, epochs: float | None = None, lr: float | None = None
) -> None:
    """Shared options; ``task`` has per-stage epochs and learning rates instead."""
    parser.add_argument("--output-dir", type=Path, required=True)
    if epochs is not None:
        parser.add_argument("--epochs", type=POSITIVE, default=epochs)
        parser.add_argument("--lr", type=POSITIVE, default=lr)
    parser.add_argument("--batch-size", type=POSITIVE_INT, default=32, help="global batch size")
    parser.add_argument("--warmup", type=FRACTION, default=0.1, help="warm-up fraction of steps")
    parser.add_argument("--grad-accum", type=POSITIVE_INT, default=1)
    parser.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default="no")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--log-every", type=POSITIVE_INT, default=10)
    parser.add_argument(
        "--save-every", type=POSITIVE_INT, default=500, help="checkpoint every N steps"
    )
    parser.add_argument(
        "--report-to",
        action="append",
        choices=("tensorboard",),
        default=[],
        help="also log to this tracker through Accelerate (OUTPUT_DIR/tracking)",
    )
    parser.add_argument(
        "--clipping",
        choices=CLIPPING,
        default=TrainConfig.clipping,
        help="gradient clipping at norm 1: of all gradients together (global) or of each "
        "parameter's gradient (per_tensor, the released TinyBERT code's BertAdam)",
    )
    parser.add_argument(
        "--stop-after",
        type=POSITIVE_INT,
        help="stop a stage at step N with a resumable checkpoint (time-boxed jobs)",
    )


def _distill_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher", required=True, help="hub name or local folder")
    parser.add_argument("--student", help="student folder to start from (task: the GD student)")
    parser.add_argument("--student-preset", choices=sorted(STUDENT_PRESETS), default="tinybert4")
    parser.add_argument(
        "--mapping",
        default="uniform",
        help="uniform, top, bottom, e.g. 3,6,9,12, or adaptive: the strictly increasing "
        "mapping with the highest hidden-state CKA between the starting student and the "
        f"teacher, saved to OUTPUT_DIR/{MAPPING_FILE} and reused when resuming",
    )
    parser.add_argument(
        "--adaptive-sample",
        type=POSITIVE_INT,
        default=256,
        help="training examples (drawn with --seed) that --mapping adaptive measures CKA on",
    )
    parser.add_argument("--without", action="append", choices=OBJECTIVES, default=[])
    parser.add_argument(
        "--projection",
        choices=PROJECTION_MODES,
        default="paper",
        help="W_e/W_h: paper = one W_e + one W_h shared by all layers; per-layer; released = "
        "one map for everything (the released fit_dense)",
    )
    parser.add_argument("--padding", choices=("masked", "official"), default="masked")
    parser.add_argument("--layer-weights", help="comma-separated lambda_0..lambda_M of eq. 11")
    parser.add_argument(
        "--teacher-cache",
        type=Path,
        help="folder caching the teacher's outputs (stage-1 targets in fp16, stage-2 logits); "
        "runs with the same teacher and data share it",
    )
    parser.add_argument(
        "--teacher-cache-max-gb",
        type=POSITIVE,
        help="stop the teacher cache growing at this size (all of it, every run's targets); "
        "targets beyond it are recomputed each time, rounded as stored, so results do not "
        "change",
    )


def _selection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--select-metric", help="metric for model selection (default: task's)")
    parser.add_argument("--select-split", help="split for model selection (default: first dev)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m distill", description=__doc__)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show transformers' loading reports"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    finetune = commands.add_parser("finetune", help="fine-tune a teacher on a GLUE task")
    finetune.add_argument("--task", required=True)
    finetune.add_argument("--data-dir", type=Path, required=True)
    finetune.add_argument("--model", required=True, help="pre-trained BERT: hub name or folder")
    finetune.add_argument("--max-length", type=POSITIVE_INT)
    _training_args(finetune, epochs=3, lr=2e-5)
    _selection_args(finetune)

    general = commands.add_parser("general", help="general distillation on a text corpus")
    general.add_argument("--corpus", type=Path, required=True)
    general.add_argument("--max-length", type=POSITIVE_INT, default=128)
    general.add_argument(
        "--max-lines", type=POSITIVE_INT, help="read only the first N corpus lines"
    )
    _distill_args(general)
    _training_args(general, epochs=3, lr=5e-5)

    task = commands.add_parser("task", help="task-specific distillation (two stages)")
    task.add_argument("--task", required=True)
    task.add_argument("--data-dir", type=Path, required=True)
    task.add_argument("--augmented-train", type=Path, help="augmented train TSV, task layout")
    task.add_argument("--max-length", type=POSITIVE_INT)
    task.add_argument("--random-init", action="store_true", help="w/o GD: random student")
    task.add_argument("--no-intermediate", action="store_true", help="w/o TD: skip stage 1")
    task.add_argument("--no-augmentation", action="store_true", help="w/o DA: original train")
    task.add_argument("--temperature", type=POSITIVE, default=1.0)
    task.add_argument(
        "--stage1-epochs",
        type=POSITIVE,
        help="default: the paper's for the task (20; 10 for MNLI, QQP, QNLI; 50 for CoLA)",
    )
    task.add_argument("--stage2-epochs", type=POSITIVE, default=3)
    task.add_argument("--stage1-lr", type=POSITIVE, default=5e-5)
    task.add_argument("--stage2-lr", type=POSITIVE, default=3e-5)
    task.add_argument(
        "--stage1-schedule",
        choices=LR_SCHEDULES,
        default="constant",
        help="stage 1's learning-rate schedule: constant as the released code (its "
        "schedule='none'), or linear warm-up and decay as stage 2",
    )
    task.add_argument("--experiment", choices=sorted(EXPERIMENTS), help="a paper ablation")
    _distill_args(task)
    _training_args(task)
    _selection_args(task)

    commands.add_parser(
        "experiments",
        help="run the paper's Tables 2-4 for a profile (see: experiments --help)",
        add_help=False,
    )

    evaluate_ = commands.add_parser("evaluate", help="GLUE dev metrics of a model")
    evaluate_.add_argument("--task", required=True)
    evaluate_.add_argument("--data-dir", type=Path, required=True)
    evaluate_.add_argument("--model", required=True)
    evaluate_.add_argument("--split", action="append", help="default: the task's dev splits")
    evaluate_.add_argument("--batch-size", type=POSITIVE_INT, default=64)
    evaluate_.add_argument("--max-length", type=POSITIVE_INT)
    evaluate_.add_argument("--output", type=Path, help="also write the metrics as JSON here")
    return parser


def _train_config(
    args: argparse.Namespace, output_dir: Path, stage: str, **overrides
) -> TrainConfig:
    values = {
        "output_dir": output_dir,
        "epochs": getattr(args, "epochs", None),
        "batch_size": args.batch_size,
        "learning_rate": getattr(args, "lr", None),
        "warmup": args.warmup,
        "grad_accum": args.grad_accum,
        "mixed_precision": args.mixed_precision,
        "seed": args.seed,
        "log_every": args.log_every,
        "save_every": args.save_every,
        "stop_after": args.stop_after,
        "report_to": tuple(args.report_to),
        "clipping": args.clipping,
        "stage": stage,
    }
    return TrainConfig(**{**values, **overrides})


def _selection(args: argparse.Namespace, task: Task) -> tuple[str, str]:
    return (args.select_split or task.dev_splits[0], args.select_metric or task.metric)


def _saver(tokenizer):
    def save(model: PreTrainedModel, directory: Path) -> None:
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)

    return save


def _save_distilled(
    tokenizer, distiller: IntermediateDistiller, directory: Path, with_projections: bool
) -> None:
    """The student; after general distillation also its W_e/W_h, in their own file."""
    _saver(tokenizer)(distiller.student, directory)
    if with_projections:
        distiller.projections.save(directory)


def _objectives(without: list[str]) -> tuple[set[str], bool]:
    """Intermediate objectives left on, and whether the prediction loss is on."""
    removed = set(without) | ({"attn", "hidn"} if "trm" in without else set())
    return set(INTERMEDIATE_OBJECTIVES) - removed, "pred" not in removed


def _file_id(path: Path) -> list:
    """Path, size and modification time: enough to notice a changed data file."""
    stat = Path(path).stat()
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]


def _glue_data(task: Task, path: Path, tokenizer, max_length: int) -> GlueDataset:
    return GlueDataset(read_tsv(task, path), tokenizer, max_length)


def run_finetune(args: argparse.Namespace) -> None:
    task = get_task(args.task)
    args.model = resolve_model(args.model)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    labels = task.labels or ("score",)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model,
        num_labels=task.num_labels,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    max_length = args.max_length or task.max_length
    data = _glue_data(task, data_file(args.data_dir, task, "train"), tokenizer, max_length)
    train(
        _train_config(args, args.output_dir, "finetune"),
        model,
        lambda m, batch: prediction_step(m, batch, target_logits=None),
        data,
        data.lengths,
        collator(tokenizer),
        _saver(tokenizer),
        eval_fn=lambda m: evaluate(m, task, tokenizer, args.data_dir, max_length=max_length),
        select=_selection(args, task),
    )


def _intermediate_stage(
    args, student, teacher, dataset, collate, config, tokenizer, data: dict
) -> PreTrainedModel | None:
    """General distillation or task stage 1: embd/attn/hidn losses only.

    ``data`` identifies the training data for ``--teacher-cache``. Returns the trained
    student, or ``None`` when ``--stop-after`` interrupted the stage.
    """
    objectives, _ = _objectives(args.without)
    strategy = parse_mapping(args.mapping)
    random_student = getattr(args, "random_init", False) or not args.student
    if strategy == ADAPTIVE:  # measured on the student as it starts the stage, or reused
        describe = {
            "teacher": str(args.teacher),
            "student": "random" if random_student else str(args.student),
            "stage": config.stage,
        }
        mapping = adaptive_mapping(
            args.output_dir / MAPPING_FILE,
            student,
            teacher,
            dataset,
            collate,
            args.adaptive_sample,
            args.seed,
            args.batch_size,
            describe,
        )
    else:
        mapping = layer_mapping(
            strategy, student.config.num_hidden_layers, teacher.config.num_hidden_layers
        )
    weights = [float(w) for w in args.layer_weights.split(",")] if args.layer_weights else None
    distiller = IntermediateDistiller(
        student, teacher, mapping, objectives, args.projection, args.padding, weights
    )
    if not random_student:  # the W_e/W_h learnt with this student, as the released checkpoints
        distiller.projections.load_from(args.student)

    def teacher_targets(batch):
        return distiller.teacher_targets(teacher, batch)

    targets = teacher_targets
    if args.teacher_cache:
        if args.padding != "masked":
            raise DistillError("--teacher-cache stores unpadded outputs; it needs --padding masked")
        fingerprint = {"teacher": args.teacher, "mapping": mapping, **data}
        bound = None if args.teacher_cache_max_gb is None else int(args.teacher_cache_max_gb * 1e9)
        size = estimated_bytes(
            [len(f["input_ids"]) for f in dataset],
            len(mapping),
            teacher.config.num_attention_heads,
            teacher.config.hidden_size,
        )
        print(
            f"teacher cache: this stage's targets take up to {size / 1e9:.2f} GB in "
            f"{args.teacher_cache}"
            + ("" if bound is None else f" (whole cache bounded at {bound / 1e9:.1f} GB)"),
            file=sys.stderr,
        )
        cache = TeacherCache(args.teacher_cache, fingerprint, max_bytes=bound)
        targets = partial(cache.targets, compute=targets)

    def step(model, batch):
        return model(batch, *targets(batch))

    trained = train(
        config,
        distiller,
        step,
        dataset,
        [len(f["input_ids"]) for f in dataset],
        collate,
        partial(_save_distilled, tokenizer, with_projections=config.stage == "general"),
        frozen=[teacher],
    )
    return None if trained is None else trained.student


def run_general(args: argparse.Namespace) -> None:
    args.teacher = resolve_model(args.teacher)
    teacher = load_teacher(args.teacher, with_head=False)
    tokenizer = AutoTokenizer.from_pretrained(args.teacher)
    if args.student:
        student = load_student(args.student, with_head=False)
    else:
        student = new_student(args.student_preset, teacher.config, with_head=False, seed=args.seed)
    features = pack_corpus(args.corpus, tokenizer, args.max_length, args.max_lines)
    if not features:
        raise DistillError(f"corpus {args.corpus} produced no sequences")
    config = _train_config(args, args.output_dir, "general")
    data = {
        "corpus": _file_id(args.corpus),
        "max_lines": args.max_lines,
        "max_length": args.max_length,
    }
    collate = collator(tokenizer, _pad_to(args, args.max_length))
    _intermediate_stage(args, student, teacher, features, collate, config, tokenizer, data)


def _pad_to(args: argparse.Namespace, max_length: int) -> int | None:
    """Training batches' fixed length: ``max_length`` under ``--padding official``, as the
    released code pads every sequence; else ``None`` (each batch to its longest)."""
    return max_length if args.padding == "official" else None


def run_task(args: argparse.Namespace) -> None:
    task = get_task(args.task)
    if not (args.student or args.random_init):
        raise DistillError("task needs --student (a general-distilled student) or --random-init")
    args.teacher = resolve_model(args.teacher)
    teacher = load_teacher(args.teacher, with_head=True)
    check_label_order(task, teacher.config.id2label)
    if teacher.config.num_labels != task.num_labels:
        raise DistillError(
            f"teacher has {teacher.config.num_labels} outputs, {task.name} needs {task.num_labels}"
        )
    tokenizer = AutoTokenizer.from_pretrained(args.teacher)
    labels = {
        "num_labels": task.num_labels,
        "id2label": teacher.config.id2label,
        "label2id": teacher.config.label2id,
    }
    if args.random_init:
        student = new_student(
            args.student_preset, teacher.config, with_head=True, seed=args.seed, **labels
        )
    else:
        student = load_student(args.student, with_head=True, **labels)
    max_length = args.max_length or task.max_length
    original = data_file(args.data_dir, task, "train")
    augmented = (
        original if args.no_augmentation or not args.augmented_train else args.augmented_train
    )
    train_data = _glue_data(task, augmented, tokenizer, max_length)
    collate = collator(tokenizer, _pad_to(args, max_length))
    objectives, use_pred = _objectives(args.without)

    stage1_dir = args.output_dir / "stage1"
    if not args.no_intermediate and objectives:
        if (stage1_dir / "config.json").is_file():
            student = load_student(stage1_dir, with_head=True)
        else:
            epochs = args.stage1_epochs or task.stage1_epochs
            config = _train_config(
                args,
                stage1_dir,
                "stage1",
                epochs=epochs,
                learning_rate=args.stage1_lr,
                lr_schedule=args.stage1_schedule,
            )
            data = {"train": _file_id(augmented), "max_length": max_length}
            student = _intermediate_stage(
                args, student, teacher, train_data, collate, config, tokenizer, data
            )
            if student is None:
                return  # stopped by --stop-after; the same command resumes stage 1

    # A regression task (STS-B) fits the gold score on the original training set in stage 2,
    # as the paper (footnote 5) and the released code's regression branch.
    fit_teacher = use_pred and task.labels is not None
    stage2_data = train_data if fit_teacher else _glue_data(task, original, tokenizer, max_length)
    targets = teacher_logits(teacher) if fit_teacher else None
    if targets is not None and args.teacher_cache:
        fingerprint = {
            "teacher": args.teacher,
            "train": _file_id(augmented),
            "max_length": max_length,
        }
        table = cached_logits(args.teacher_cache, fingerprint, targets, stage2_data, collate)
        targets = lambda batch: table[batch["index"].cpu()]  # noqa: E731
    stage2_dir = args.output_dir / "stage2"
    config = _train_config(
        args, stage2_dir, "stage2", epochs=args.stage2_epochs, learning_rate=args.stage2_lr
    )
    train(
        config,
        student,
        lambda m, batch: prediction_step(m, batch, targets, args.temperature),
        stage2_data,
        stage2_data.lengths,
        collate,
        _saver(tokenizer),
        eval_fn=lambda m: evaluate(m, task, tokenizer, args.data_dir, max_length=max_length),
        select=_selection(args, task),
        frozen=[teacher] if fit_teacher else [],
    )


def run_evaluate(args: argparse.Namespace) -> dict[str, float]:
    task = get_task(args.task)
    model = load_student(args.model, with_head=True, what="model")
    check_label_order(task, model.config.id2label)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    splits = tuple(args.split) if args.split else None
    metrics = evaluate(
        model, task, tokenizer, args.data_dir, splits, args.batch_size, args.max_length
    )
    print(json.dumps(metrics, indent=2))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(metrics, indent=2))
    return metrics


COMMANDS = {
    "finetune": run_finetune,
    "general": run_general,
    "task": run_task,
    "evaluate": run_evaluate,
}


def main(argv: list[str] | None = None) -> None:
    """Run one command; a user error is one line on stderr and exit status 2."""
    argv = sys.argv[1:] if argv is None else argv
    report_user_errors(lambda: _run(argv))


def _run(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "experiments":  # python -m distill dispatches it to distill.runner
        raise DistillError("run the tables with: python -m distill experiments ...")
    if getattr(args, "experiment", None):
        # The experiment's switches go first so that explicit flags override them.
        args = build_parser().parse_args(
            [argv[0], *EXPERIMENTS[args.experiment].flags(), *argv[1:]]
        )
    quiet_loading(args.verbose)
    if hasattr(args, "seed"):
        set_seed(args.seed)  # before any model is built: heads and projections start random
    COMMANDS[args.command](args)


def quiet_loading(verbose: bool) -> None:
    """Hide transformers' load reports (a fine-tuned head's expected missing weights) and
    warnings unless ``-v``: a user should see progress and errors, not routine tables."""
    if verbose:
        transformers_logging.set_verbosity_info()
    else:
        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
