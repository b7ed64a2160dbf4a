"""The typed entry point of ``augment``: one frozen spec in, one typed result out.

``python -m augment`` parses its flags into an :class:`AugmentSpec` and calls
:func:`augment`; the experiment runner builds the spec itself and calls the same
function, and records ``spec.to_argv()`` as the command a user can paste. Every user
error (bad input, output, flags or models) is an :class:`AugmentError` whose message is
one line. Models are loaded once per process and reused by later calls with the same
masked LM, device, precision and word vectors.

Heavy imports (torch, transformers) happen inside :func:`augment`, so that building a
spec, ``--help`` and flag errors answer at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from augment.formats import infer_format, task_preset
from augment.glove import DEFAULT_GLOVE, GloveNeighbours
from augment.runner import Job, run
from augment.settings import AugmentError, AugmentSettings

if TYPE_CHECKING:  # loading imports torch, which --help and flag errors must not wait for
    from augment.augmenter import Augmenter
    from augment.mlm.loading import LoadedMaskedLM

__all__ = ["AugmentError", "AugmentResult", "AugmentSettings", "AugmentSpec", "FLAGS", "augment"]

FLAGS = {
    "p_t": "--p_t",
    "n_a": "--n_a",
    "k": "--k",
    "seed": "--seed",
    "batch_size": "--batch-size",
    "chunk_size": "--chunk-size",
    "glove_vocab": "--glove-vocab",
    "max_seq_length": "--max-seq-length",
}
"""The command-line flag of each numeric setting, as messages and ``to_argv`` spell it."""


@dataclass(frozen=True)
class AugmentSpec:
    """One augmentation job, everything ``python -m augment`` can be told.

    ``task`` (a GLUE preset) names the text columns and the header; ``columns`` and
    ``header`` override it. ``format`` ``None`` infers it from the input's extension.
    ``shard`` ``(I, N)`` is part I of N (see :func:`augment.runner.merge`).
    """

    input: Path
    output: Path
    task: str | None = None
    format: str | None = None
    columns: tuple[str | int, ...] | None = None
    header: bool | None = None
    on_bad_row: str = "error"
    shard: tuple[int, int] = (0, 1)
    settings: AugmentSettings = field(default_factory=AugmentSettings)
    seed: int = 42
    mlm: str = "auto"
    glove: str = DEFAULT_GLOVE
    glove_vocab: int = 100_000
    device: str = "cpu"
    dtype: str = "float32"
    batch_size: int = 128
    chunk_size: int = 1000

    def validate(self) -> None:
        """Raise :class:`AugmentError` naming the flag of the first value out of range."""
        values = {
            "n_a": self.settings.n_a,
            "k": self.settings.k,
            "batch_size": self.batch_size,
            "chunk_size": self.chunk_size,
        }
        if self.settings.max_seq_length is not None:
            values["max_seq_length"] = self.settings.max_seq_length
        for name, value in values.items():
            if value < 1:
                raise AugmentError(f"{FLAGS[name]} must be at least 1, got {value}")
        if self.glove_vocab < 0:
            raise AugmentError(f"{FLAGS['glove_vocab']} must be 0 (all) or more")
        if not 0.0 <= self.settings.p_t <= 1.0:
            raise AugmentError(f"{FLAGS['p_t']} must be between 0 and 1, got {self.settings.p_t}")
        index, count = self.shard
        if not 0 <= index < count:
            raise AugmentError(f"--shard {index}/{count}: need 0 <= INDEX < COUNT")
        if self.on_bad_row not in ("error", "skip"):
            raise AugmentError(f"--on-bad-row is error or skip, got {self.on_bad_row!r}")
        if self.dtype not in ("float32", "bfloat16"):
            raise AugmentError(f"--dtype is float32 or bfloat16, got {self.dtype!r}")

    def to_argv(self) -> list[str]:
        """The ``python -m augment`` arguments that build this spec (defaults left out)."""
        default = AugmentSpec(self.input, self.output)
        argv = ["--input", str(self.input), "--output", str(self.output)]
        settings, base = self.settings, default.settings
        for name in ("p_t", "n_a", "k"):
            argv += [FLAGS[name], str(getattr(settings, name))]
        if settings.clean != base.clean:
            argv += ["--candidates", "clean" if settings.clean else "faithful"]
        if settings.paired_mlm_input != base.paired_mlm_input:
            argv += ["--mlm-input", "paired" if settings.paired_mlm_input else "plain"]
        if settings.lowercase_output:
            argv.append("--lowercase-output")
        if settings.max_seq_length is not None:
            argv += [FLAGS["max_seq_length"], str(settings.max_seq_length)]
        if self.task is not None:
            argv += ["--task", self.task]
        if self.format is not None:
            argv += ["--format", self.format]
        if self.columns is not None:
            argv += ["--columns", ",".join(str(column) for column in self.columns)]
        if self.header is not None:
            argv.append("--header" if self.header else "--no-header")
        if self.shard != default.shard:
            argv += ["--shard", f"{self.shard[0]}/{self.shard[1]}"]
        flags = {"on_bad_row": "--on-bad-row", "mlm": "--mlm", "glove": "--glove"}
        flags |= {"device": "--device", "dtype": "--dtype"} | FLAGS
        for spec_field in fields(self):
            name = spec_field.name
            if name in flags and getattr(self, name) != getattr(default, name):
                argv += [flags[name], str(getattr(self, name))]
        return argv


@dataclass(frozen=True)
class AugmentResult:
    """What a finished job did (this shard's part of it). ``input_lines``: data lines read,
    header excluded; ``output_lines``: examples kept plus augmented sentences written
    (header and blank pass-through lines excluded); ``seconds``: wall time, checks and
    model loading included; ``models``: the description the resume check uses."""

    output: Path
    input_lines: int
    output_lines: int
    examples: int
    augmented: int
    skipped: dict[str, int]
    seconds: float
    models: str


@lru_cache(maxsize=2)
def _masked_lm(spec: str, device: str, dtype: str) -> LoadedMaskedLM:
    """The masked LM, loaded once per process for each (name, device, precision)."""
    import torch

    from augment.mlm.loading import load_masked_lm

    loaded = load_masked_lm(spec, device)
    loaded.model.to(getattr(torch, dtype))
    return loaded


@lru_cache(maxsize=2)
def _word_vectors(spec: str, vocab: int) -> tuple[list[str], np.ndarray]:
    """Word vectors, read once per process for each (source, vocabulary size)."""
    loaded = GloveNeighbours.load(spec, 1, False, vocab or None)
    return loaded.words, loaded.unit_vectors


def _job(spec: AugmentSpec) -> Job:
    fmt = spec.format or infer_format(spec.input)
    preset = task_preset(spec.task) if spec.task else None
    columns = spec.columns or (preset.columns if preset else None)
    if columns is None:
        if fmt != "text":
            raise AugmentError("name the text columns with --task or --columns")
        columns = (0,)
    header = spec.header if spec.header is not None else (preset.header if preset else True)
    return Job(
        input=spec.input,
        output=spec.output,
        format=fmt,
        columns=columns,
        header=header and fmt in ("tsv", "csv"),
        settings=spec.settings,
        seed=spec.seed,
        chunk_size=spec.chunk_size,
        skip_bad_rows=spec.on_bad_row == "skip",
        shard=spec.shard,
    )


def augment(spec: AugmentSpec) -> AugmentResult:
    """Run ``spec``: check flags, output and every input line, then load the models (once
    per process) and write the output atomically. Raises :class:`AugmentError`."""
    spec.validate()
    job = _job(spec)
    settings = spec.settings
    descriptions = []

    def make_augmenter() -> tuple[Augmenter, str]:
        """Load (or reuse) the models; the runner calls this after checking the input."""
        import torch

        from augment.augmenter import Augmenter
        from augment.masked_lm import MaskedLMCandidates

        torch.manual_seed(spec.seed)
        loaded = _masked_lm(spec.mlm, spec.device, spec.dtype)
        words, vectors = _word_vectors(spec.glove, spec.glove_vocab)
        glove = GloveNeighbours(words, vectors, settings.k, settings.clean)
        candidates = MaskedLMCandidates(
            loaded.model, loaded.tokenizer, settings.k, settings.clean, spec.batch_size
        )
        augmenter = Augmenter(candidates, glove, settings)
        described = f"{loaded.description} {spec.dtype}; glove {spec.glove} {spec.glove_vocab}"
        descriptions.append(f"{described}; max length {augmenter.max_length}")
        return augmenter, descriptions[-1]

    started = time.time()
    summary = run(job, make_augmenter)
    return AugmentResult(
        output=spec.output,
        input_lines=summary.lines,
        output_lines=summary.records + summary.augmented,
        examples=summary.records,
        augmented=summary.augmented,
        skipped=dict(summary.skipped),
        seconds=round(time.time() - started, 3),
        models=descriptions[-1],
    )
