"""Hugging Face model cards for the models this toolkit saves: metrics and the exact recipe.

A checkpoint folder is often copied away from the results that describe it (to another
machine, to the hub). Its ``README.md`` card keeps the description with the weights: YAML
metadata in the hub's conventions (licence, base model, GLUE dataset, ``model-index`` with
the dev metrics as :class:`~huggingface_hub.EvalResult` entries) and a body saying what the
model is, the recipe it was made with, the command that made it and how to load it.

Cards never contain machine paths: a path inside the project or in ``../shared`` beside it
is written relative to the project root (as :meth:`distill.experiments.profiles.Profile.describe`
writes them),
the pip MiniLM folder as its short name ``minilm``, and any other path as its last
component.
"""

from __future__ import annotations

import functools
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from augment.atomic import write_text_atomically
from distill.glue import DEV_SPLIT, Task, get_task
from distill.hub import MINILM, looks_like_path

CARD_FILE = "README.md"
PROJECT_LICENSE = "apache-2.0"
GLUE_DATASET = "nyu-mll/glue"
PIPELINE_TAG = "text-classification"
# Hub ids of the short model names the toolkit resolves itself (distill/hub.py).
HUB_IDS = {MINILM: "sentence-transformers/all-MiniLM-L6-v2"}
# Our split and metric names (distill.evaluation, distill.metrics) and the hub's: the GLUE
# dataset's split names and the ids of the `evaluate` metrics.
HUB_SPLITS = {
    DEV_SPLIT: "validation",
    "dev_matched": "validation_matched",
    "dev_mismatched": "validation_mismatched",
}
HUB_METRICS = {
    "acc": "accuracy",
    "f1": "f1",
    "mcc": "matthews_correlation",
    "pearson": "pearsonr",
    "spearman": "spearmanr",
}
# The dataset config names of GLUE on the hub, where they differ from ours.
HUB_CONFIGS = {"sst-2": "sst2", "sts-b": "stsb"}


@dataclass(frozen=True)
class CardRecipe:
    """What a card says about one saved model; the runner fills it from a finished run.

    ``metrics`` are ``{"<split>/<metric>": value}`` as ``distill.evaluation.split_metrics``
    returns them. ``base_model`` is the pre-trained model the model derives from (for a
    student: the one its teacher was fine-tuned from); ``teacher`` is the model a student
    was distilled from (``None`` for a teacher). Names may be short names (``minilm``), hub
    names or folders; folders are made portable when the card is rendered.
    """

    kind: Literal["student", "teacher"]
    task: str  # GLUE task name, as distill.glue.TASKS spells it
    base_model: str
    metrics: Mapping[str, float]
    command: tuple[str, ...]
    commit: str
    seed: int
    teacher: str | None = None
    student_preset: str | None = None
    profile: str | None = None
    experiment: str | None = None
    experiment_label: str | None = None
    mapping: tuple[int, ...] | None = None  # [g(0), g(1), ..., g(M)], as distilled
    objectives: tuple[str, ...] = ()
    temperature: float | None = None
    learning_rates: Mapping[str, float] = field(default_factory=dict)  # per stage
    epochs: Mapping[str, float] = field(default_factory=dict)  # per stage
    license: str = PROJECT_LICENSE  # the teacher's licence where it is not Apache-2.0

    def __post_init__(self) -> None:
        if self.kind not in ("student", "teacher"):
            raise ValueError(f"kind must be 'student' or 'teacher', not {self.kind!r}")
        if self.kind == "student" and self.teacher is None:
            raise ValueError("a student's card needs the teacher it was distilled from")


def card_for(recipe: CardRecipe, root: Path) -> ModelCard:
    """The model card of ``recipe``; paths are written relative to ``root`` (the project)."""
    portable = functools.partial(_portable, root=Path(root).resolve())
    task = get_task(recipe.task)
    config = HUB_CONFIGS.get(task.name, task.name)
    base_model = portable(recipe.base_model)
    name = _model_name(recipe, task, base_model)
    tags = ["tinybert", "glue", task.name]
    tags += ["knowledge-distillation"] if recipe.kind == "student" else ["teacher"]
    results = [_eval_result(task, config, key, value) for key, value in recipe.metrics.items()]
    data = ModelCardData(
        base_model=HUB_IDS.get(base_model, None if _is_local(recipe.base_model) else base_model),
        datasets=[GLUE_DATASET],
        language="en",
        library_name="transformers",
        license=recipe.license,
        pipeline_tag=PIPELINE_TAG,
        tags=tags,
        model_name=name,
        eval_results=results or None,
    )
    body = _body(recipe, task, name, base_model, config, portable)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


def write_card(folder: Path, recipe: CardRecipe, root: Path) -> Path:
    """Write ``folder/README.md`` for ``recipe`` and return its path.

    A failure leaves the previous card (or none), never part of one.
    """
    target = Path(folder) / CARD_FILE
    write_text_atomically(target, str(card_for(recipe, root)))
    return target


def read_card_metrics(folder: Path) -> dict[str, float]:
    """The dev metrics of the card in ``folder``, keyed as the card was given them."""
    path = Path(folder) / CARD_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model card")
    card = ModelCard.load(path)
    to_split = {hub: ours for ours, hub in HUB_SPLITS.items()}
    to_metric = {hub: ours for ours, hub in HUB_METRICS.items()}
    return {
        f"{to_split.get(result.dataset_split, result.dataset_split)}/"
        f"{to_metric.get(result.metric_type, result.metric_type)}": float(result.metric_value)
        for result in card.data.eval_results or ()
    }


def _eval_result(task: Task, config: str, key: str, value: float) -> EvalResult:
    split, _, metric = key.rpartition("/")
    if not split:
        raise ValueError(f"metric {key!r} is not '<split>/<metric>'")
    return EvalResult(
        task_type=PIPELINE_TAG,
        dataset_type=GLUE_DATASET,
        dataset_name=f"GLUE {task.directory}",
        dataset_config=config,
        dataset_split=HUB_SPLITS.get(split, split),
        metric_type=HUB_METRICS.get(metric, metric),
        metric_value=float(value),
    )


def _model_name(recipe: CardRecipe, task: Task, base_model: str) -> str:
    """A readable identifier for ``model-index``: what was trained, on what, how."""
    if recipe.kind == "teacher":
        parts = [Path(base_model).name, task.name, "teacher"]
    else:
        parts = ["tinybert", recipe.student_preset, task.name, recipe.experiment]
    return "-".join(part for part in (*parts, f"seed{recipe.seed}") if part)


def _body(recipe: CardRecipe, task: Task, name: str, base_model: str, config: str, portable) -> str:
    pretty = task.directory  # CoLA, SST-2, ...
    if recipe.kind == "student":
        what = (
            f"A TinyBERT student for GLUE {pretty}, made by transformer distillation (Jiao et "
            f"al., 2019) from the teacher `{portable(recipe.teacher)}`, itself `{base_model}` "
            f"fine-tuned on {pretty}."
        )
    else:
        what = f"`{base_model}` fine-tuned on GLUE {pretty}: the teacher of TinyBERT students."
    rows = [
        ("kind", recipe.kind),
        ("task", f"{task.name} (`{GLUE_DATASET}`, config `{config}`)"),
        ("base model", base_model),
        ("teacher", portable(recipe.teacher) if recipe.teacher else None),
        ("student preset", recipe.student_preset),
        ("profile", recipe.profile),
        ("experiment", _experiment(recipe)),
        ("layer mapping", _listed(recipe.mapping)),
        ("objectives", ", ".join(recipe.objectives) or None),
        ("temperature", recipe.temperature),
        ("learning rates", _per_stage(recipe.learning_rates)),
        ("epochs", _per_stage(recipe.epochs)),
        ("seed", recipe.seed),
        ("commit", recipe.commit),
        ("licence", recipe.license),
    ]
    table = "\n".join(
        f"| {key} | {_cell(value)} |" for key, value in rows if value not in (None, "")
    )
    metrics = "\n".join(f"| {key} | {value!r} |" for key, value in recipe.metrics.items())
    command = shlex.join(portable(argument) for argument in recipe.command)
    return f"""
# {name}

{what}

## How it was made

| setting | value |
|---|---|
{table}

Command (paths relative to the project root; a path outside it by its last part):

```bash
{command}
```

## Dev metrics

| split/metric | value |
|---|---|
{metrics}

## How to load it

```python
from transformers import AutoModelForSequenceClassification, AutoTokenizer

folder = "path/to/this/folder"
model = AutoModelForSequenceClassification.from_pretrained(folder)
tokenizer = AutoTokenizer.from_pretrained(folder)
```
"""


def _experiment(recipe: CardRecipe) -> str | None:
    if recipe.experiment and recipe.experiment_label:
        return f"{recipe.experiment} ({recipe.experiment_label})"
    return recipe.experiment or recipe.experiment_label


def _listed(values: tuple[int, ...] | None) -> str | None:
    return None if values is None else ", ".join(str(value) for value in values)


def _per_stage(values: Mapping[str, float]) -> str | None:
    return ", ".join(f"{stage} {value:g}" for stage, value in values.items()) or None


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|")


def _is_local(name: str) -> bool:
    """A name that is no hub id: a folder, or a name only the toolkit resolves (``pip:...``)."""
    return looks_like_path(name) or ":" in name


def _portable(value: str, root: Path) -> str:
    """``value`` with a path in it (alone or after ``--flag=``) made portable."""
    flag, equals, path = "", "", value
    if not value.startswith(("/", "~")):
        flag, equals, path = value.partition("=")
        if not path.startswith(("/", "~")):
            return value
    path_obj = Path(os.path.abspath(Path(path).expanduser()))  # ../shared may be a link
    if path_obj.resolve() == _pip_minilm():
        return flag + equals + MINILM
    if path_obj.is_relative_to(root) or path_obj.is_relative_to(root.parent / "shared"):
        return flag + equals + os.path.relpath(path_obj, root)
    return flag + equals + path_obj.name


@functools.cache
def _pip_minilm() -> Path | None:
    """The folder the short name ``minilm`` resolves to, if the package is installed."""
    from distill.hub import pip_minilm_path

    try:
        return pip_minilm_path().resolve()
    except ImportError:
        return None
