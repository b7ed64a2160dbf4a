"""Task data from the formats users keep it in: GLUE TSV, CSV, Parquet, JSON lines, and
Hugging Face ``datasets`` (a folder written by ``save_to_disk``, or a hub name).

A :class:`DataSource` says where the examples are and which columns hold their texts and
label (by default the GLUE task's own column names); :func:`read_examples` turns it into
the same :class:`~distill.glue.Example` values that :func:`~distill.glue.read_tsv` gives
for a GLUE file, with labels checked by the same rule. :func:`parse_source` makes a
source from what a user types, so a command line needs no parsing of its own.

Bad input is one :class:`~distill.errors.DistillError` line naming the file and its line
(CSV, JSONL) or row (Parquet, datasets: the first row is row 1) and the problem: a
missing column (listing those there are), an unknown label, an empty or non-string text,
an unreadable file or an unknown suffix. Texts must be non-empty, because an empty text
would be tokenised to nothing but special tokens and silently train on noise.

Labels may be class names or, as ``datasets`` stores them, integers. An integer of a
``ClassLabel`` column whose names are the task's labels is read by name (the hub's MNLI
numbers its classes in another order than GLUE's files); any other integer is read as
its digits, which is what the hub's binary GLUE tasks mean (SST-2's 0/1 are GLUE's).
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from augment.formats import BadInput, infer_format, read_lines
from augment.parquet import read_text_schema
from distill.errors import DistillError, MissingInput
from distill.glue import DEV_SPLIT, Example, Task, data_file, label_value, read_tsv
from distill.hub import looks_like_path

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa

FILE_SUFFIXES = (".tsv", ".csv", ".parquet", ".jsonl", ".json")
"""Suffixes read as files; ``.json`` holds JSON lines, as in ``augment``."""


@dataclass(frozen=True)
class DataSource:
    """Where a task's labelled examples are, and which columns hold them.

    ``location`` is a data file (by suffix: ``.tsv``, ``.csv``, ``.parquet``, ``.jsonl``
    or ``.json``), a folder written by ``Dataset.save_to_disk`` or
    ``DatasetDict.save_to_disk``, or a Hugging Face hub dataset name. ``config`` (hub
    only) and ``split`` (hub, and a saved ``DatasetDict``) pick the part to read.
    ``text_columns``/``label_column`` of ``None`` mean the task's own column names.
    """

    location: str
    config: str | None = None
    split: str | None = None
    text_columns: tuple[str, ...] | None = None
    label_column: str | None = None

    def __str__(self) -> str:
        """The source as :func:`parse_source` reads it: ``NAME[:CONFIG][@SPLIT]``."""
        config = f":{self.config}" if self.config else ""
        split = f"@{self.split}" if self.split else ""
        return f"{self.location}{config}{split}"


def parse_source(
    text: str, text_columns: str | None = None, label_column: str | None = None
) -> DataSource:
    """The source a user names, as a command line takes it (``--train-file TEXT
    --text-columns a,b --label-column c``).

    ``text`` is a data file or a ``save_to_disk`` folder, optionally ``FOLDER@SPLIT``, or a
    hub dataset ``NAME[:CONFIG]@SPLIT`` (``nyu-mll/glue:sst2@validation``). An existing
    path is always read whole, so a file whose name has ``@`` or ``:`` still works.
    ``text_columns`` is a comma-separated list of column names.
    """
    if not text.strip():
        raise DistillError("the data source is empty; name a file, a dataset folder or a hub name")
    texts = None
    if text_columns is not None:
        texts = tuple(name.strip() for name in text_columns.split(","))
        if not all(texts):
            raise DistillError(f"text columns {text_columns!r}: a column name is empty")
    if label_column is not None and not label_column.strip():
        raise DistillError("the label column name is empty")
    label = label_column.strip() if label_column is not None else None
    if Path(text).exists() or Path(text).suffix.lower() in FILE_SUFFIXES:
        return DataSource(text, text_columns=texts, label_column=label)
    name, _, split = text.rpartition("@") if "@" in text else (text, "", "")
    config = None
    if not Path(name).exists() and not looks_like_path(name) and ":" in name:
        name, _, config = name.partition(":")
    return DataSource(name, config or None, split or None, texts, label)


def read_examples(task: Task, source: DataSource) -> list[Example]:
    """The labelled examples of ``task`` at ``source``, in their stored order."""
    kind = source_kind(source)
    task = _with_columns(task, source, kind)
    if kind == "tsv":
        try:
            return read_tsv(task, source.location)
        except UnicodeDecodeError as error:
            raise DistillError(f"{source}: not UTF-8 text ({error.reason})") from None
        except MissingInput:
            raise
        except OSError as error:
            raise DistillError(f"{source}: cannot read the file ({error.strerror})") from None
    if kind in ("csv", "jsonl", "parquet"):
        path = Path(source.location)
        if not path.is_file():
            raise MissingInput(f"{path}: {task.name} data file not found")
        if kind == "csv":
            return _read_csv(task, path)
        if kind == "jsonl":
            return _read_jsonl(task, path)
        return _read_parquet(task, path)
    return _read_dataset(task, source, _load_dataset(source, saved=kind == "saved"))


def source_kind(source: DataSource) -> str:
    """``tsv``, ``csv``, ``jsonl``, ``parquet`` (a file), ``saved`` (a ``save_to_disk``
    folder) or ``hub`` (a hub name), from the suffix or what exists at the location."""
    path = Path(source.location)
    if path.is_dir():
        kind = "saved"
    elif path.suffix.lower() in FILE_SUFFIXES:
        kind = infer_format(path)
    elif path.exists():
        raise DistillError(
            f"{path}: unknown data format {path.suffix!r}; use {', '.join(FILE_SUFFIXES)}"
            " or a folder written by datasets' save_to_disk"
        )
    elif looks_like_path(source.location):
        raise MissingInput(f"{source.location}: no such data file or dataset folder")
    else:
        kind = "hub"
    if source.config is not None and kind != "hub":
        raise DistillError(f"{source}: a config (:{source.config}) names a hub dataset's part")
    if source.split is not None and kind not in ("saved", "hub"):
        raise DistillError(f"{source}: a split (@{source.split}) names part of a dataset")
    return kind


def _with_columns(task: Task, source: DataSource, kind: str) -> Task:
    """``task`` reading the source's columns; headerless GLUE files (CoLA) give column
    positions, which only a TSV can use, so other formats must name the columns."""
    if source.text_columns is not None and len(source.text_columns) != len(task.text_columns):
        raise DistillError(
            f"{source}: {task.name} takes {len(task.text_columns)} text column(s), "
            f"not {len(source.text_columns)} ({', '.join(source.text_columns)})"
        )
    task = dataclasses.replace(
        task,
        text_columns=source.text_columns or task.text_columns,
        label_column=source.label_column or task.label_column,
    )
    if len(set(_columns(task))) < len(_columns(task)):
        raise DistillError(f"{source}: a column is named twice in {_columns(task)}")
    if kind != "tsv" and not all(
        isinstance(column, str) for column in (*task.text_columns, task.label_column)
    ):
        raise DistillError(
            f"{source}: {task.name}'s GLUE file has no header, so name the text and label "
            "columns (text_columns=..., label_column=...)"
        )
    return task


def _read_csv(task: Task, path: Path) -> list[Example]:
    """A CSV file with a header line, in the ``csv`` module's (Excel's) quoting, so a
    quoted text may run over line breaks; rows are named by their first line."""
    line = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, None)
            if header is None:
                raise DistillError(f"{path}:1: the file is empty; expected a header line")
            _require_columns(f"{path}:1", header, _columns(task))
            rows = []
            line = reader.line_num + 1
            for fields in reader:
                if fields and len(fields) != len(header):
                    raise DistillError(
                        f"{path}:{line}: expected {len(header)} comma-separated fields, "
                        f"got {len(fields)}"
                    )
                if fields:
                    rows.append((f"{path}:{line}", dict(zip(header, fields, strict=True))))
                line = reader.line_num + 1
    except csv.Error as error:
        raise DistillError(f"{path}:{line}: not valid CSV ({error})") from None
    except UnicodeDecodeError as error:
        raise DistillError(f"{path}: not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise DistillError(f"{path}: cannot read the file ({error.strerror})") from None
    return [_example(task, where, row) for where, row in rows]


def _read_jsonl(task: Task, path: Path) -> list[Example]:
    """One JSON object a line (blank lines skipped); labels may be names or numbers."""
    examples = []
    try:
        for number, line in read_lines(path):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DistillError(
                    f"{where}: not valid JSON ({error.msg}); expected one object a line"
                ) from None
            if not isinstance(row, dict):
                raise DistillError(f"{where}: expected a JSON object, one a line")
            _require_columns(where, list(row), _columns(task), kind="field")
            examples.append(_example(task, where, row))
    except BadInput as error:
        raise DistillError(str(error)) from None
    except OSError as error:
        raise DistillError(f"{path}: cannot read the file ({error.strerror})") from None
    return examples


def _read_parquet(task: Task, path: Path) -> list[Example]:
    """The text and label columns of a Parquet table (as ``augment`` reads its texts)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = read_text_schema(path, task.text_columns)
    except BadInput as error:
        raise DistillError(str(error)) from None
    _require_columns(str(path), schema.names, _columns(task))
    try:
        table = pq.read_table(path, columns=_columns(task))
    except (pa.ArrowException, OSError) as error:
        raise DistillError(f"{path}: cannot read the table ({error})") from None
    return _table_examples(task, table, f"{path}: row")


def _load_dataset(source: DataSource, saved: bool) -> datasets.Dataset:
    """The split of a saved dataset folder or of a hub dataset (``datasets.load_dataset``,
    so the hub cache and ``HF_DATASETS_OFFLINE`` work as everywhere else)."""
    try:
        import datasets
    except ImportError:
        raise DistillError(
            f"{source}: reading a Hugging Face dataset needs the datasets library "
            "(pip install 'tinybert-toolkit[datasets]')"
        ) from None
    if not saved:
        if source.split is None:
            raise DistillError(
                f"{source}: no such file or folder; as a hub dataset, name its split "
                "(NAME[:CONFIG]@SPLIT)"
            )
        try:
            return datasets.load_dataset(source.location, source.config, split=source.split)
        except (OSError, ValueError) as error:
            problem = next(iter(str(error).strip().splitlines()), "")
            raise DistillError(
                f"{source}: cannot load the dataset ({type(error).__name__}: {problem})"
            ) from None
    try:
        loaded = datasets.load_from_disk(source.location)
    except FileNotFoundError:
        raise MissingInput(
            f"{source.location}: not a folder written by datasets' save_to_disk"
        ) from None
    if isinstance(loaded, datasets.DatasetDict):
        if source.split not in loaded:
            raise DistillError(
                f"{source}: choose one of the splits {', '.join(loaded)} (FOLDER@SPLIT)"
            )
        return loaded[source.split]
    if source.split is not None and loaded.split is not None and source.split != str(loaded.split):
        raise DistillError(f"{source}: the folder holds only the split {loaded.split}")
    return loaded


def _read_dataset(task: Task, source: DataSource, dataset: datasets.Dataset) -> list[Example]:
    _require_columns(str(source), dataset.column_names, _columns(task))
    table = dataset.select_columns(_columns(task)).with_format("arrow")[:]
    return _table_examples(task, table, f"{source}: row")


def _table_examples(task: Task, table: pa.Table, where: str) -> list[Example]:
    """Examples from the rows of an Arrow table; ``where`` prefixes each row's number."""
    names = _class_names(table.schema, task)
    rows = table.to_pylist()
    return [_example(task, f"{where} {number}", row, names) for number, row in enumerate(rows, 1)]


def _class_names(schema: pa.Schema, task: Task) -> list[str] | None:
    """The names of the label column's classes, when ``datasets`` recorded it as a
    ``ClassLabel`` (in the schema, also in its Parquet files) whose names are the task's."""
    metadata = (schema.metadata or {}).get(b"huggingface")
    if metadata is None or task.labels is None:
        return None
    features = json.loads(metadata).get("info", {}).get("features", {})
    feature = features.get(task.label_column, {})
    names = feature.get("names") if feature.get("_type") == "ClassLabel" else None
    return names if names and set(names) <= set(task.labels) else None


def _columns(task: Task) -> list[str]:
    return [*task.text_columns, task.label_column]


def _require_columns(
    where: str, available: Iterable[str], wanted: Iterable[str], kind: str = "column"
) -> None:
    available = list(available)
    for name in wanted:
        if name not in available:
            raise DistillError(
                f"{where}: no {kind} named {name!r} ({kind}s: {', '.join(available)})"
            )


def _example(
    task: Task, where: str, row: Mapping[str, object], class_names: list[str] | None = None
) -> Example:
    texts = []
    for column in task.text_columns:
        text = row[column]
        if text is None:
            raise DistillError(f"{where}: text column {column!r} is null")
        if not isinstance(text, str):
            raise DistillError(f"{where}: text column {column!r} holds {text!r}, not a string")
        if not text.strip():
            raise DistillError(f"{where}: text column {column!r} is empty")
        texts.append(text)
    return Example(
        tuple(texts), label_value(task, _label_text(row, task, where, class_names), where)
    )


def _label_text(
    row: Mapping[str, object], task: Task, where: str, class_names: list[str] | None
) -> str:
    """The label as the text a GLUE file would hold: a class name, or a number's digits."""
    value = row[task.label_column]
    if value is None:
        raise DistillError(f"{where}: label column {task.label_column!r} is null")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DistillError(f"{where}: label {value!r} is not a class name or a number")
    if isinstance(value, int) and class_names is not None and 0 <= value < len(class_names):
        return class_names[value]
    return value if isinstance(value, str) else repr(value)


@dataclass(frozen=True)
class TaskData:
    """Where a task's training and dev examples are: GLUE's layout under ``data_dir``
    (``<Task>/train.tsv``, ``dev.tsv``...), or for either set any source
    :func:`parse_source` reads, with its columns named (default: the task's names)."""

    data_dir: Path | None = None
    train_file: str | None = None
    dev_file: str | None = None
    text_columns: tuple[str, ...] | None = dataclasses.field(default=None, metadata={"join": ","})
    label_column: str | None = None

    def source(self, location: str | Path) -> DataSource:
        """``location`` read with this data's column names."""
        columns = ",".join(self.text_columns) if self.text_columns else None
        return parse_source(str(location), columns, self.label_column)

    def train_source(self, task: Task) -> DataSource:
        if self.train_file is not None:
            return self.source(self.train_file)
        return self.source(data_file(self._glue_dir("--train-file"), task, "train"))

    def train(self, task: Task) -> list[Example]:
        return read_examples(task, self.train_source(task))

    def dev(self, task: Task, splits: tuple[str, ...] = ()) -> dict[str, list[Example]]:
        """``{split: examples}``: ``--dev-file`` as split :data:`DEV_SPLIT`, else the GLUE
        dev splits (``splits``, default the task's)."""
        if self.dev_file is not None:
            return {DEV_SPLIT: read_examples(task, self.source(self.dev_file))}
        folder = self._glue_dir("--dev-file")
        return {
            split: read_tsv(task, data_file(folder, task, split))
            for split in splits or task.dev_splits
        }

    def _glue_dir(self, instead: str) -> Path:
        if self.data_dir is None:
            raise DistillError(f"name the task's data: --data-dir (GLUE's layout) or {instead}")
        return self.data_dir


def source_id(source: DataSource) -> list:
    """What identifies a source's examples in a cache fingerprint: a file's path, size and
    modification time (a changed file is noticed), else the source as named."""
    path = Path(source.location)
    if path.is_file():
        stat = path.stat()
        return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
    return [str(source), source.text_columns, source.label_column]
