"""GLUE tasks: TSV readers in the ``download_glue_data.py`` layout, datasets and batching.

Files are read with ``csv`` (tab delimiter, ``QUOTE_NONE``: GLUE text contains stray
quotes that must stay literal) and ``utf-8-sig`` (MRPC's header starts with a BOM).
A row with the wrong number of fields or an unknown label raises an error naming the file
and line, because silently dropping rows changes dev metrics.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase

from distill.errors import DistillError, MissingInput

DEV_SPLIT = "dev"  # the dev set's name in metrics ("dev/acc") and records; MNLI has two


@dataclass(frozen=True)
class Task:
    """Where a task's fields are and how it is scored.

    ``text_columns``/``label_column`` are header names, or integer positions for CoLA
    (no header). ``labels`` lists class names in label-id order; ``None`` = regression.
    ``max_length`` follows the paper: 64 for single sentences, 128 for pairs.
    ``stage1_epochs`` are the paper's intermediate-distillation epochs (Sec. 4.2): 20, 10
    for the large sets (MNLI, QQP, QNLI; SST-2 is not one), 50 for CoLA (footnote 4).
    """

    name: str
    directory: str
    text_columns: tuple[str, ...] | tuple[int, ...]
    label_column: str | int
    labels: tuple[str, ...] | None
    dev_splits: tuple[str, ...] = (DEV_SPLIT,)
    max_length: int = 128
    stage1_epochs: int = 20
    metric: str = "acc"

    @property
    def num_labels(self) -> int:
        return 1 if self.labels is None else len(self.labels)

    @property
    def has_header(self) -> bool:
        return isinstance(self.label_column, str)


TASKS: dict[str, Task] = {
    task.name: task
    for task in [
        Task("cola", "CoLA", (3,), 1, ("0", "1"), max_length=64, stage1_epochs=50,
             metric="mcc"),
        Task("sst-2", "SST-2", ("sentence",), "label", ("0", "1"), max_length=64),
        Task("mrpc", "MRPC", ("#1 String", "#2 String"), "Quality", ("0", "1"), metric="f1"),
        Task("sts-b", "STS-B", ("sentence1", "sentence2"), "score", None, metric="spearman"),
        Task("qqp", "QQP", ("question1", "question2"), "is_duplicate", ("0", "1"), stage1_epochs=10,
             metric="f1"),
        Task("mnli", "MNLI", ("sentence1", "sentence2"), "gold_label",
             ("contradiction", "entailment", "neutral"),
             dev_splits=("dev_matched", "dev_mismatched"), stage1_epochs=10),
        Task("qnli", "QNLI", ("question", "sentence"), "label", ("entailment", "not_entailment"),
             stage1_epochs=10),
        Task("rte", "RTE", ("sentence1", "sentence2"), "label", ("entailment", "not_entailment")),
        Task("wnli", "WNLI", ("sentence1", "sentence2"), "label", ("0", "1")),
    ]
}  # fmt: skip


def get_task(name: str) -> Task:
    key = name.lower()
    if key not in TASKS:
        raise DistillError(f"unknown GLUE task {name!r}; use one of {sorted(TASKS)}")
    return TASKS[key]


@dataclass(frozen=True)
class Example:
    texts: tuple[str, ...]
    label: int | float


def read_tsv(task: Task, path: str | Path) -> list[Example]:
    """Read a labelled GLUE TSV (train, dev or an augmented train file in the same layout)."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"{path}: {task.name} data file not found")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        if task.has_header:
            header = next(rows, [])
            missing = [c for c in (*task.text_columns, task.label_column) if c not in header]
            if missing:
                columns = ", ".join(header)
                raise DistillError(f"{path}:1: header lacks columns {missing} (columns: {columns})")
            text_idx = [header.index(c) for c in task.text_columns]
            label_idx = header.index(task.label_column)
            width, first_line = len(header), 2
        else:
            text_idx, label_idx = list(task.text_columns), task.label_column
            width, first_line = max(*text_idx, label_idx) + 1, 1
        examples = []
        for line, row in enumerate(rows, start=first_line):
            if not row:
                continue
            if len(row) != width:
                raise DistillError(
                    f"{path}:{line}: expected {width} tab-separated fields, got {len(row)}"
                )
            label = label_value(task, row[label_idx], f"{path}:{line}")
            examples.append(Example(tuple(row[i] for i in text_idx), label))
    return examples


def label_value(task: Task, value: str, where: str) -> int | float:
    """The label id of class name ``value`` (a float score for regression); an error
    names ``where`` (``file:line``), so every reader of task data checks labels alike."""
    if task.labels is None:
        try:
            return float(value)
        except ValueError:
            raise DistillError(f"{where}: score {value!r} is not a number") from None
    if value not in task.labels:
        raise DistillError(f"{where}: label {value!r} not in {task.labels}")
    return task.labels.index(value)


def check_label_order(task: Task, id2label: dict[int, str] | None) -> None:
    """Refuse a teacher whose named label order differs from ours (e.g. MNLI checkpoints).

    Generic names (``LABEL_0``...) carry no information and are accepted.
    """
    if task.labels is None or not id2label:
        return
    names = [str(id2label[i]).lower() for i in sorted(id2label)]
    if all(name.startswith("label_") for name in names):
        return
    if names != list(task.labels):
        raise DistillError(
            f"model labels {names} do not match {task.name} label order {list(task.labels)}"
        )


class GlueDataset(torch.utils.data.Dataset):
    """Tokenised once up front; padding happens per batch in the collator.

    Each feature carries its ``index`` so that cached teacher outputs can be looked up.
    """

    def __init__(
        self, examples: Sequence[Example], tokenizer: PreTrainedTokenizerBase, max_length: int
    ):
        columns = list(zip(*(e.texts for e in examples), strict=True)) if examples else [[]]
        encoded = tokenizer(*columns, truncation=True, max_length=max_length)
        self.features = [
            {**{k: v[i] for k, v in encoded.items()}, "labels": e.label, "index": i}
            for i, e in enumerate(examples)
        ]

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict:
        return self.features[index]

    @property
    def lengths(self) -> list[int]:
        return [len(f["input_ids"]) for f in self.features]


def collator(
    tokenizer: PreTrainedTokenizerBase, pad_to: int | None = None
) -> DataCollatorWithPadding:
    """Pads each batch to its own longest sequence (dynamic padding), or with ``pad_to``
    every sequence to that length, as the released ``convert_examples_to_features`` does
    (``--padding official``: its losses count padded positions, so the length matters)."""
    if pad_to is None:
        return DataCollatorWithPadding(tokenizer, return_tensors="pt")
    return DataCollatorWithPadding(
        tokenizer, padding="max_length", max_length=pad_to, return_tensors="pt"
    )


class LengthBucketSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of similar length so that dynamic padding adds little work.

    Each epoch shuffles the indices, sorts them by length inside windows of
    ``bucket_batches`` batches, cuts batches and shuffles the batch order. The order is
    a pure function of ``(seed, epoch)``, which is what makes resuming mid-epoch exact.
    ``shuffle=False`` gives length-sorted batches for evaluation.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        bucket_batches: int = 50,
    ):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.bucket_batches = bucket_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        indices = list(range(len(self.lengths)))
        if not self.shuffle:
            indices.sort(key=self.lengths.__getitem__)
            yield from (
                indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)
            )
            return
        rng = random.Random(self.seed * 100_003 + self.epoch)
        rng.shuffle(indices)
        window = self.batch_size * self.bucket_batches
        batches = []
        for start in range(0, len(indices), window):
            chunk = sorted(indices[start : start + window], key=self.lengths.__getitem__)
            batches += [
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            ]
        rng.shuffle(batches)
        yield from batches


def data_file(data_dir: str | Path, task: Task, split: str) -> Path:
    """``data_dir`` may be the GLUE root (holding ``CoLA/``...) or the task folder itself."""
    root = Path(data_dir)
    folder = root / task.directory if (root / task.directory).is_dir() else root
    return folder / f"{split}.tsv"
