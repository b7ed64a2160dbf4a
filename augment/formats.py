"""Input and output formats: GLUE-style TSV, CSV, plain text, JSONL (Parquet: ``augment.parquet``);
and the GLUE task presets.

A *record* is one input line with the texts to augment pulled out of it. A format knows
how to parse a line into a record and how to write a record back with some texts
replaced, keeping every other field (labels, ids) unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from augment.settings import AugmentError


class BadInput(AugmentError, ValueError):
    """Input that cannot be augmented; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class TaskPreset:
    """Where a GLUE task's training file keeps its text: header or not, and which columns."""

    header: bool
    columns: tuple[str | int, ...]


# Text columns of the GLUE training files as `download_glue_data.py` lays them out.
TASKS: dict[str, TaskPreset] = {
    "cola": TaskPreset(header=False, columns=(3,)),
    "sst-2": TaskPreset(header=True, columns=("sentence",)),
    "mrpc": TaskPreset(header=True, columns=("#1 String", "#2 String")),
    "sts-b": TaskPreset(header=True, columns=("sentence1", "sentence2")),
    "qqp": TaskPreset(header=True, columns=("question1", "question2")),
    "mnli": TaskPreset(header=True, columns=("sentence1", "sentence2")),
    "qnli": TaskPreset(header=True, columns=("question", "sentence")),
    "rte": TaskPreset(header=True, columns=("sentence1", "sentence2")),
    "wnli": TaskPreset(header=True, columns=("sentence1", "sentence2")),
}


def task_preset(name: str) -> TaskPreset:
    """The preset for ``name``, accepting GLUE's spellings (``SST-2``, ``sst2``, ``STS-B``)."""
    key = name.lower().replace("_", "-")
    aliases = {"sst2": "sst-2", "stsb": "sts-b"}
    key = aliases.get(key, key)
    if key not in TASKS:
        raise BadInput(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[key]


@dataclass
class Record:
    """One input line: its number, its raw text, its parsed fields and its texts."""

    line_number: int
    line: str
    fields: list[str] | dict[str, object]
    texts: list[str]


class Format:
    """Reads records and writes them back; subclasses fix the line syntax."""

    def __init__(self, path: Path, columns: tuple[str | int, ...], header: bool) -> None:
        self.path = path
        self.columns = columns
        self.header = header

    def lines(self) -> Iterator[tuple[int, str]]:
        """The numbered input lines, which the runner checks, counts, shards and parses."""
        return read_lines(self.path)

    def header_line(self, first_line: str) -> str | None:
        """Check the header line (if the format has one) and return it for the output."""
        return None

    def parse(self, line_number: int, line: str) -> Record | None:
        """Parse one line into a record, or ``None`` for a line that passes through as is."""
        raise NotImplementedError

    def write(self, record: Record, texts: list[str]) -> str:
        """The output line for ``record`` with its texts replaced by ``texts``."""
        raise NotImplementedError

    def finished(self, partial: Path) -> Path:
        """The finished output made from the written lines: here the ``.partial`` itself."""
        return partial

    def error(self, line_number: int, problem: str) -> BadInput:
        return BadInput(f"{self.path}:{line_number}: {problem}")

    def _require_text(self, line_number: int, texts: list[str]) -> list[str]:
        for column, text in zip(self.columns, texts, strict=True):
            if not text.strip():
                raise self.error(line_number, f"text column {column!r} is empty")
        return texts


class TsvFormat(Format):
    """Tab-separated values without quoting, as GLUE's files are read by the official code."""

    def __init__(self, path: Path, columns: tuple[str | int, ...], header: bool) -> None:
        super().__init__(path, columns, header)
        self.indices: list[int] = []
        self.width: int | None = None

    def _resolve(self, names: list[str] | None, width: int) -> None:
        self.width = width
        for column in self.columns:
            if isinstance(column, int):
                if not 0 <= column < width:
                    raise self.error(1, f"column {column} is out of range for {width} columns")
                self.indices.append(column)
            elif names is None or column not in names:
                raise self.error(1, f"no column named {column!r} in the header {names}")
            else:
                self.indices.append(names.index(column))

    def split(self, line_number: int, line: str) -> list[str]:
        return line.split("\t")

    def join(self, fields: list[str]) -> str:
        return "\t".join(field.replace("\t", " ") for field in fields)

    def header_line(self, first_line: str) -> str | None:
        if not self.header:
            return None
        names = self.split(1, first_line)
        self._resolve(names, len(names))
        return first_line

    def parse(self, line_number: int, line: str) -> Record:
        fields = self.split(line_number, line)
        if self.width is None:
            self._resolve(None, len(fields))
        if len(fields) != self.width:
            raise self.error(line_number, f"expected {self.width} columns, found {len(fields)}")
        texts = self._require_text(line_number, [fields[i] for i in self.indices])
        return Record(line_number, line, fields, texts)

    def write(self, record: Record, texts: list[str]) -> str:
        fields = list(record.fields)
        for index, text in zip(self.indices, texts, strict=True):
            fields[index] = text.replace("\n", " ")
        return self.join(fields)


class CsvFormat(TsvFormat):
    """Comma-separated values with the ``csv`` module's quoting, one record a line (a quoted
    field that runs over a line break is reported as a bad row)."""

    def split(self, line_number: int, line: str) -> list[str]:
        try:
            return next(csv.reader([line], strict=True))
        except (csv.Error, StopIteration) as error:
            raise self.error(line_number, f"not a one-line CSV row ({error})") from error

    def join(self, fields: list[str]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(fields)
        return buffer.getvalue()


class TextFormat(Format):
    """One sentence a line; blank lines (document breaks) pass through unchanged."""

    def parse(self, line_number: int, line: str) -> Record | None:
        if not line.strip():
            return None
        return Record(line_number, line, [line], [line])

    def write(self, record: Record, texts: list[str]) -> str:
        return texts[0].replace("\n", " ")


class JsonlFormat(Format):
    """One JSON object a line; the text fields are named by ``columns``."""

    def parse(self, line_number: int, line: str) -> Record | None:
        if not line.strip():
            return None
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            raise self.error(line_number, f"not valid JSON ({error.msg})") from error
        if not isinstance(obj, dict):
            raise self.error(line_number, "expected a JSON object")
        texts = []
        for column in self.columns:
            value = obj.get(str(column))
            if not isinstance(value, str):
                raise self.error(line_number, f"field {column!r} is missing or not a string")
            texts.append(value)
        return Record(line_number, line, obj, self._require_text(line_number, texts))

    def write(self, record: Record, texts: list[str]) -> str:
        obj = dict(record.fields)
        obj.update({str(column): text for column, text in zip(self.columns, texts, strict=True)})
        return json.dumps(obj, ensure_ascii=False)


FORMATS = {"tsv": TsvFormat, "csv": CsvFormat, "text": TextFormat, "jsonl": JsonlFormat}


def infer_format(path: Path) -> str:
    """``tsv``, ``csv``, ``jsonl`` (``.jsonl``/``.json``), ``parquet`` by extension, else
    ``text``."""
    formats = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
    formats[".parquet"] = "parquet"
    return formats.get(path.suffix.lower(), "text")


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines without their line endings (a UTF-8 BOM is dropped, as MRPC has one)."""
    number = 0
    try:
        with open(path, encoding="utf-8-sig", newline="\n") as file:
            for number, line in enumerate(file, start=1):
                yield number, line.rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise BadInput(f"{path}:{number + 1}: not UTF-8 text ({error.reason})") from error
