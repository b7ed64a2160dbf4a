"""The pipeline's stages as plain functions: one typed, frozen spec in, one typed result out.

    finetune(FinetuneSpec) -> StageResult     a teacher fine-tuned on a GLUE task
    general(GeneralSpec) -> StageResult       general distillation on a text corpus
    task(TaskSpec) -> TaskResult              task distillation: stage 1, then stage 2
    evaluate(EvaluateSpec) -> dict            GLUE dev metrics of a model

The command line (:mod:`distill.cli`) parses into these specs and the experiment runner
(:mod:`distill.experiments.runner`) builds them from a profile and a table row; both then
call the same function. The defaults written here are the only ones: the paper's (Sec. 4.2)
and the released code's. ``to_argv()`` renders the command that runs a spec, which every
result stores so that a user can paste it.

A rerun of the same spec resumes: each stage continues from its own checkpoint, and a
finished stage 1 is reused by stage 2.
"""

from __future__ import annotations

import json
import sys
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, is_dataclass, replace
from functools import partial
from pathlib import Path

from accelerate.utils import set_seed
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from augment.atomic import write_json_atomically
from distill.adaptive_mapping import MAPPING_FILE, adaptive_mapping
from distill.corpus import pack_corpus
from distill.distiller import (
    INTERMEDIATE_OBJECTIVES,
    IntermediateDistiller,
    gold_label_step,
    mapped_teacher_targets,
    prediction_step,
    teacher_logits,
)
from distill.errors import DistillError
from distill.evaluation import dev_outputs, split_metrics
from distill.glue import (
    GlueDataset,
    Task,
    check_label_order,
    collator,
    get_task,
)
from distill.hub import resolve_model
from distill.mapping import ADAPTIVE, layer_mapping, parse_mapping
from distill.models import load_student, load_teacher, new_student
from distill.task_data import DataSource, TaskData, read_examples, source_id
from distill.teacher_cache import TeacherCache, cached_logits, estimated_bytes, model_id
from distill.training import Batches, Evaluation, LoopOptions, TrainConfig, train

OBJECTIVES = ("embd", "attn", "hidn", "trm", "pred")
RECIPE_FILE = "recipe.json"  # the spec a stage ran with and what it resolved, beside its model


@dataclass(frozen=True)
class DistillOptions:
    """What general and task distillation share: the models, the mapping and the losses."""

    teacher: str  # hub name or folder (task distillation: the fine-tuned teacher)
    student: Path | None = None  # folder to start from (task: the general-distilled student)
    student_preset: str = "tinybert4"  # the architecture of a new (random) student
    mapping: str = "uniform"  # uniform, top, bottom, adaptive or e.g. "3,6,9,12"
    adaptive_sample: int = 256  # training examples --mapping adaptive measures CKA on
    without: tuple[str, ...] = ()  # objectives left out (Table 3)
    projection: str = "paper"  # W_e/W_h: paper, per-layer or released
    padding: str = "masked"  # masked, or official (pad to max length as the released code)
    layer_weights: tuple[float, ...] | None = field(default=None, metadata={"join": ","})
    teacher_cache: Path | None = None  # folder caching the teacher's outputs
    teacher_cache_max_gb: float | None = None  # bound of that whole folder


@dataclass(frozen=True)
class FinetuneSpec:
    """Fine-tune a pre-trained model on a GLUE task: the teacher of task distillation."""

    task: str
    model: str  # pre-trained BERT: hub name or folder
    output_dir: Path
    data: TaskData = TaskData()
    epochs: float = 3
    lr: float = 2e-5
    max_length: int | None = None  # None: the task's (64 single sentences, 128 pairs)
    select_metric: str | None = None  # None: the task's primary metric
    select_split: str | None = None  # None: the task's first dev split
    loop: LoopOptions = LoopOptions()


@dataclass(frozen=True)
class GeneralSpec:
    """General distillation: the student imitates the pre-trained teacher on a corpus."""

    corpus: Path
    output_dir: Path
    distill: DistillOptions
    max_length: int = 128
    max_lines: int | None = None  # read only the first N corpus lines
    epochs: float = 3
    lr: float = 5e-5
    loop: LoopOptions = LoopOptions()


@dataclass(frozen=True)
class TaskSpec:
    """Task distillation: stage 1 (intermediate layers) then stage 2 (predictions)."""

    task: str
    output_dir: Path  # stage 1 in OUTPUT_DIR/stage1, the final student in OUTPUT_DIR/stage2
    distill: DistillOptions
    data: TaskData = TaskData()
    augmented_train: str | None = None  # Algorithm 1's output, read with data's columns
    max_length: int | None = None  # None: the task's
    random_init: bool = False  # w/o GD: a random student
    no_intermediate: bool = False  # w/o TD: skip stage 1
    no_augmentation: bool = False  # w/o DA: the original training set
    temperature: float = 1.0  # of eq. 10's soft cross-entropy
    stage1_epochs: float | None = None  # None: the paper's for the task (Task.stage1_epochs)
    stage2_epochs: float = 3
    stage1_lr: float = 5e-5
    stage2_lr: float = 3e-5
    stage1_schedule: str = "constant"  # the released code's schedule='none'
    select_metric: str | None = None
    select_split: str | None = None
    loop: LoopOptions = LoopOptions()


@dataclass(frozen=True)
class EvaluateSpec:
    """Score a model on a task's dev split(s)."""

    task: str
    model: Path
    data_dir: Path | None = None  # GLUE's layout
    dev_file: str | None = None  # or one dev set from any source distill.task_data reads
    text_columns: tuple[str, ...] | None = field(default=None, metadata={"join": ","})
    label_column: str | None = None
    split: tuple[str, ...] = ()  # () : the task's dev splits
    batch_size: int = 64
    max_length: int | None = None
    output: Path | None = None  # also write the metrics as JSON here
    predictions: Path | None = None  # and each example's predicted and gold label here


COMMANDS = {FinetuneSpec: "finetune", GeneralSpec: "general", TaskSpec: "task"}
COMMANDS[EvaluateSpec] = "evaluate"
# Nested specs by their annotation (``from __future__ import annotations`` keeps strings).
_NESTED = {"LoopOptions": LoopOptions, "DistillOptions": DistillOptions, "TaskData": TaskData}


def to_argv(spec: object) -> list[str]:
    """The ``python -m distill`` arguments that run ``spec``: its command, then a flag for
    each setting that differs from its default (flags are the field names with dashes)."""
    return [COMMANDS[type(spec)], *_flags(spec)]


def _flags(spec: object) -> list[str]:
    argv: list[str] = []
    for spec_field in fields(spec):
        value = getattr(spec, spec_field.name)
        argv += _flags(value) if is_dataclass(value) else field_flags(spec_field, value)
    return argv


def field_flags(spec_field: Field, value: object) -> list[str]:
    """The flags that set ``spec_field`` to ``value``; none when it is the default."""
    if spec_field.default is not MISSING and value == spec_field.default:
        return []
    flag = "--" + spec_field.name.replace("_", "-")
    if isinstance(value, bool):
        return [flag]
    if isinstance(value, tuple) and "join" in spec_field.metadata:
        return [flag, spec_field.metadata["join"].join(map(str, value))]
    if isinstance(value, tuple):
        return [part for item in value for part in (flag, str(item))]
    return [flag, str(value)]


def nested_spec(spec_field: Field) -> type | None:
    """The spec class a field holds (loop, distill, data options), or ``None`` for a
    plain setting."""
    return _NESTED.get(spec_field.type)


def spec_fields(spec_type: type) -> dict[str, Field]:
    """Every setting of ``spec_type`` by name, its nested specs' included (the flat names
    the command line uses)."""
    found: dict[str, Field] = {}
    for spec_field in fields(spec_type):
        nested = nested_spec(spec_field)
        if nested is not None:
            found |= spec_fields(nested)
        else:
            found[spec_field.name] = spec_field
    return found


@dataclass(frozen=True)
class StageResult:
    """Where a stage left its model; ``None`` when ``--stop-after`` interrupted it."""

    model: Path | None
    examples: int  # training examples (general: packed sequences) of one epoch


@dataclass(frozen=True)
class TaskResult:
    """What task distillation produced and used, for records and model cards."""

    model: Path | None  # the selected final student (OUTPUT_DIR/stage2/best); None if stopped
    mapping: list[int] | None  # [g(0), ..., g(M)] of stage 1; None without stage 1
    objectives: tuple[str, ...]  # the losses that were on, stage 1's then "pred"
    stage1_epochs: float | None
    stage1_examples: int | None
    stage2_examples: int | None


def objectives(without: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
    """Intermediate objectives left on (in the paper's order) and whether ``pred`` is on."""
    removed = set(without) | ({"attn", "hidn"} if "trm" in without else set())
    unknown = removed - set(OBJECTIVES)
    if unknown:
        raise DistillError(f"unknown objectives {sorted(unknown)}; use {list(OBJECTIVES)}")
    kept = tuple(o for o in INTERMEDIATE_OBJECTIVES if o not in removed)
    return kept, "pred" not in removed


def _train_config(loop: LoopOptions, output_dir: Path, stage: str, **values) -> TrainConfig:
    return TrainConfig(output_dir=output_dir, loop=loop, stage=stage, **values)


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


def _pad_to(options: DistillOptions, max_length: int) -> int | None:
    """Training batches' fixed length: ``max_length`` under ``padding="official"``, as the
    released code pads every sequence; else ``None`` (each batch to its longest)."""
    return max_length if options.padding == "official" else None


def _write_recipe(output_dir: Path, spec: object, resolved: dict) -> None:
    """``OUTPUT_DIR/recipe.json``: the command, the whole spec and what it resolved to
    (mapping, epochs, data sizes), so a model folder says how it was made."""
    record = {"command": to_argv(spec), "spec": asdict(spec), "resolved": resolved}
    write_json_atomically(output_dir / RECIPE_FILE, record)  # every process of a launch writes it


def finetune(spec: FinetuneSpec) -> StageResult:
    """Fine-tune ``spec.model`` on the task; the best dev checkpoint is OUTPUT_DIR/best."""
    task = get_task(spec.task)
    train_examples, dev_sets = spec.data.train(task), spec.data.dev(task)  # before any model
    set_seed(spec.loop.seed)  # before any model is built: the classifier head starts random
    model_name = resolve_model(spec.model)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    labels = task.labels or ("score",)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_name,
        num_labels=task.num_labels,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    max_length = spec.max_length or task.max_length
    data = GlueDataset(train_examples, tokenizer, max_length)
    _write_recipe(spec.output_dir, spec, {"max_length": max_length, "examples": len(data)})
    trained = train(
        _train_config(
            spec.loop, spec.output_dir, "finetune", epochs=spec.epochs, learning_rate=spec.lr
        ),
        model,
        gold_label_step,
        Batches(data, data.lengths, collator(tokenizer)),
        _saver(tokenizer),
        _evaluation(spec, task, dev_sets, tokenizer, max_length),
    )
    return StageResult(None if trained is None else spec.output_dir / "best", len(data))


def _evaluation(
    spec: FinetuneSpec | TaskSpec, task: Task, dev_sets: dict, tokenizer, max_length: int
) -> Evaluation:
    """Dev metrics after each epoch; the best model by the task's (or the chosen) metric on
    the first dev set (or the chosen one) is kept in OUTPUT_DIR/best."""

    def metrics(model: PreTrainedModel) -> dict[str, float]:
        return split_metrics(
            task, dev_outputs(model, task, tokenizer, dev_sets, max_length=max_length)
        )

    return Evaluation(
        metrics, (spec.select_split or next(iter(dev_sets)), spec.select_metric or task.metric)
    )


def _mapping(
    options: DistillOptions,
    student: PreTrainedModel,
    teacher: PreTrainedModel,
    dataset,
    collate,
    loop: LoopOptions,
    output_dir: Path,
    stage: str,
    random_student: bool,
) -> list[int]:
    """The layer mapping of an intermediate stage: the strategy resolved for these models,
    or the adaptive choice (measured on the student as it starts the stage, or reused)."""
    strategy = parse_mapping(options.mapping)
    if strategy != ADAPTIVE:
        return layer_mapping(
            strategy, student.config.num_hidden_layers, teacher.config.num_hidden_layers
        )
    describe = {
        "teacher": str(options.teacher),
        "student": "random" if random_student else str(options.student),
        "stage": stage,
    }
    return adaptive_mapping(
        output_dir / MAPPING_FILE,
        student,
        teacher,
        dataset,
        collate,
        options.adaptive_sample,
        loop.seed,
        loop.batch_size,
        describe,
    )


def _intermediate_stage(
    options: DistillOptions,
    config: TrainConfig,
    models: tuple[PreTrainedModel, PreTrainedModel],
    batches: Batches,
    tokenizer,
    mapping: list[int],
    data_id: dict,
) -> PreTrainedModel | None:
    """General distillation or task stage 1: the embd/attn/hidn losses only.

    ``data_id`` identifies the training data in the teacher cache's fingerprint. Returns
    the trained student, or ``None`` when ``stop_after`` interrupted the stage.
    """
    student, teacher = models
    kept, _ = objectives(options.without)
    weights = list(options.layer_weights) if options.layer_weights else None
    distiller = IntermediateDistiller(
        student, teacher, mapping, set(kept), options.projection, options.padding, weights
    )
    if options.student is not None:  # the W_e/W_h learnt with this student, as released
        distiller.projections.load_from(options.student)

    def targets(batch):
        return distiller.teacher_targets(teacher, batch)

    if options.teacher_cache:
        if options.padding != "masked":
            raise DistillError("--teacher-cache stores unpadded outputs; it needs --padding masked")
        # every mapped layer, whatever this stage's objectives: rows on the same data share it
        every_layer = partial(mapped_teacher_targets, teacher, mapping=mapping)
        targets = _cached(options, teacher, batches.lengths, mapping, data_id, every_layer)

    def step(model, batch):
        return model(batch, *targets(batch))

    trained = train(
        config,
        distiller,
        step,
        batches,
        partial(_save_distilled, tokenizer, with_projections=config.stage == "general"),
        frozen=[teacher],
    )
    return None if trained is None else trained.student


def _cached(options: DistillOptions, teacher, lengths, mapping, data_id, compute):
    """``compute`` behind the teacher cache, with its size said before it grows."""
    fingerprint = {"teacher": model_id(options.teacher), "mapping": mapping, **data_id}
    gigabytes = options.teacher_cache_max_gb
    bound = None if gigabytes is None else int(gigabytes * 1e9)
    size = estimated_bytes(
        lengths,
        len(mapping),
        teacher.config.num_attention_heads,
        teacher.config.hidden_size,
    )
    print(
        f"teacher cache: this stage's targets take up to {size / 1e9:.2f} GB in "
        f"{options.teacher_cache}"
        + ("" if bound is None else f" (whole cache bounded at {bound / 1e9:.1f} GB)"),
        file=sys.stderr,
    )
    cache = TeacherCache(options.teacher_cache, fingerprint, max_bytes=bound)
    return partial(cache.targets, compute=compute)


def general(spec: GeneralSpec) -> StageResult:
    """General distillation of a new (or given) student; the model is OUTPUT_DIR."""
    options = replace(spec.distill, teacher=resolve_model(spec.distill.teacher))
    set_seed(spec.loop.seed)  # before any model is built: the projections start random
    teacher = load_teacher(options.teacher, with_head=False)
    tokenizer = AutoTokenizer.from_pretrained(options.teacher)
    if options.student is not None:
        student = load_student(options.student, with_head=False)
    else:
        student = new_student(
            options.student_preset, teacher.config, with_head=False, seed=spec.loop.seed
        )
    features = pack_corpus(spec.corpus, tokenizer, spec.max_length, spec.max_lines)
    if not features:
        raise DistillError(f"corpus {spec.corpus} produced no sequences")
    collate = collator(tokenizer, _pad_to(options, spec.max_length))
    config = _train_config(
        spec.loop, spec.output_dir, "general", epochs=spec.epochs, learning_rate=spec.lr
    )
    mapping = _mapping(
        options,
        student,
        teacher,
        features,
        collate,
        spec.loop,
        spec.output_dir,
        "general",
        options.student is None,
    )
    _write_recipe(spec.output_dir, spec, {"mapping": mapping, "examples": len(features)})
    data_id = {
        "corpus": source_id(DataSource(str(spec.corpus))),
        "max_lines": spec.max_lines,
        "max_length": spec.max_length,
    }
    batches = Batches.of(features, collate)
    trained = _intermediate_stage(
        options, config, (student, teacher), batches, tokenizer, mapping, data_id
    )
    return StageResult(None if trained is None else spec.output_dir, len(features))


def task(spec: TaskSpec) -> TaskResult:
    """Task distillation; the selected student is OUTPUT_DIR/stage2/best."""
    task_ = get_task(spec.task)
    if spec.distill.student is None and not spec.random_init:
        raise DistillError("task needs --student (a general-distilled student) or --random-init")
    kept, use_pred = objectives(spec.distill.without)
    # The data first: a bad file is reported before any model loads.
    original = spec.data.train_source(task_)
    augmented = (
        original
        if spec.no_augmentation or spec.augmented_train is None
        else spec.data.source(spec.augmented_train)
    )
    train_examples = read_examples(task_, augmented)
    # A regression task (STS-B) fits the gold score on the original training set in stage 2,
    # as the paper (footnote 5) and the released code's regression branch.
    fit_teacher = use_pred and task_.labels is not None
    stage2_examples = train_examples if fit_teacher else read_examples(task_, original)
    dev_sets = spec.data.dev(task_)
    options = replace(
        spec.distill,
        teacher=resolve_model(spec.distill.teacher),
        student=None if spec.random_init else spec.distill.student,
    )
    set_seed(spec.loop.seed)  # before any model is built: heads and projections start random
    teacher = load_teacher(options.teacher, with_head=True)
    check_label_order(task_, teacher.config.id2label)
    if teacher.config.num_labels != task_.num_labels:
        raise DistillError(
            f"teacher has {teacher.config.num_labels} outputs, {task_.name} needs "
            f"{task_.num_labels}"
        )
    tokenizer = AutoTokenizer.from_pretrained(options.teacher)
    labels = {
        "num_labels": task_.num_labels,
        "id2label": teacher.config.id2label,
        "label2id": teacher.config.label2id,
    }
    if options.student is None:
        student = new_student(
            options.student_preset, teacher.config, with_head=True, seed=spec.loop.seed, **labels
        )
    else:
        student = load_student(options.student, with_head=True, **labels)
    max_length = spec.max_length or task_.max_length
    train_data = GlueDataset(train_examples, tokenizer, max_length)
    collate = collator(tokenizer, _pad_to(options, max_length))

    intermediate = not spec.no_intermediate and bool(kept)
    stage1_dir = spec.output_dir / "stage1"
    stage1_epochs = (spec.stage1_epochs or task_.stage1_epochs) if intermediate else None
    mapping = None
    if intermediate:
        mapping = _mapping(
            options,
            student,
            teacher,
            train_data,
            collate,
            spec.loop,
            spec.output_dir,
            "stage1",
            options.student is None,
        )
    stage2_data = train_data if fit_teacher else GlueDataset(stage2_examples, tokenizer, max_length)
    used = (kept if intermediate else ()) + (("pred",) if use_pred else ())
    result = TaskResult(
        model=spec.output_dir / "stage2" / "best",
        mapping=mapping,
        objectives=used,
        stage1_epochs=stage1_epochs,
        stage1_examples=len(train_data) if intermediate else None,
        stage2_examples=len(stage2_data),
    )
    _write_recipe(spec.output_dir, spec, _resolved(result, max_length))

    if intermediate:
        if (stage1_dir / "config.json").is_file():
            student = load_student(stage1_dir, with_head=True)
        else:
            config = _train_config(
                spec.loop,
                stage1_dir,
                "stage1",
                epochs=stage1_epochs,
                learning_rate=spec.stage1_lr,
                lr_schedule=spec.stage1_schedule,
            )
            data_id = {"train": source_id(augmented), "max_length": max_length}
            batches = Batches(train_data, train_data.lengths, collate)
            student = _intermediate_stage(
                options, config, (student, teacher), batches, tokenizer, mapping, data_id
            )
            if student is None:
                return replace(result, model=None)  # stopped; the same spec resumes stage 1

    targets = teacher_logits(teacher) if fit_teacher else None
    if targets is not None and options.teacher_cache:
        fingerprint = {
            "teacher": model_id(options.teacher),
            "train": source_id(augmented),
            "max_length": max_length,
        }
        table = cached_logits(options.teacher_cache, fingerprint, targets, stage2_data, collate)
        targets = lambda batch: table[batch["index"].cpu()]  # noqa: E731
    config = _train_config(
        spec.loop,
        spec.output_dir / "stage2",
        "stage2",
        epochs=spec.stage2_epochs,
        learning_rate=spec.stage2_lr,
    )
    if targets is None:
        step = gold_label_step
    else:
        step = partial(prediction_step, target_logits=targets, temperature=spec.temperature)
    trained = train(
        config,
        student,
        step,
        Batches(stage2_data, stage2_data.lengths, collate),
        _saver(tokenizer),
        _evaluation(spec, task_, dev_sets, tokenizer, max_length),
        frozen=[teacher] if fit_teacher else [],
    )
    return result if trained is not None else replace(result, model=None)


def _resolved(result: TaskResult, max_length: int) -> dict:
    return {
        "mapping": result.mapping,
        "objectives": list(result.objectives),
        "stage1_epochs": result.stage1_epochs,
        "stage1_examples": result.stage1_examples,
        "stage2_examples": result.stage2_examples,
        "max_length": max_length,
    }


def evaluate(spec: EvaluateSpec) -> dict[str, float]:
    """``{"<split>/<metric>": value}`` of the model on the task's dev split(s)."""
    task_ = get_task(spec.task)
    data = TaskData(spec.data_dir, None, spec.dev_file, spec.text_columns, spec.label_column)
    dev_sets = data.dev(task_, spec.split)
    model = load_student(spec.model, with_head=True, what="model")
    check_label_order(task_, model.config.id2label)
    tokenizer = AutoTokenizer.from_pretrained(spec.model)
    outputs = dev_outputs(model, task_, tokenizer, dev_sets, spec.batch_size, spec.max_length)
    metrics = split_metrics(task_, outputs)
    if spec.output is not None:
        spec.output.parent.mkdir(parents=True, exist_ok=True)
        spec.output.write_text(json.dumps(metrics, indent=2))
    if spec.predictions is not None:
        spec.predictions.parent.mkdir(parents=True, exist_ok=True)
        labelled = {
            split: {"predicted": scored.predicted().tolist(), "gold": scored.labels.tolist()}
            for split, scored in outputs.items()
        }
        spec.predictions.write_text(json.dumps(labelled))
    return metrics
