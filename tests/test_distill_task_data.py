"""Task data in CSV, Parquet, JSON lines and ``datasets`` folders reads to exactly the
examples that ``read_tsv`` gives for the same real GLUE rows; bad input is one line."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import shared_asset

from distill.errors import DistillError, MissingInput
from distill.glue import Task, get_task, read_tsv
from distill.task_data import DataSource, parse_source, read_examples, source_kind

ROOT = Path(__file__).resolve().parents[1]
ROWS = 50  # data rows taken from the head of each real training file

# GLUE task -> the class names its TSV labels stand for in the hub's `glue` dataset, whose
# ClassLabel numbers the classes in this order (RTE's order reversed, to check that a
# ClassLabel whose names are the task's is read by name, not by number).
CLASS_NAMES = {
    "sst-2": ["negative", "positive"],
    "mrpc": ["not_equivalent", "equivalent"],
    "rte": ["not_entailment", "entailment"],
}


def glue_head(tmp_path: Path, task: Task) -> tuple[Path, list[str], list[list[str]]]:
    """The header and first rows of the task's real train.tsv, also written as a TSV."""
    source = shared_asset("glue", task.directory, "train.tsv")
    with source.open(encoding="utf-8", newline="") as handle:
        lines = [next(handle) for _ in range(ROWS + 1)]
    tsv = tmp_path / "train.tsv"
    tsv.write_text("".join(lines), encoding="utf-8", newline="")
    header = lines[0].lstrip("\ufeff").rstrip("\r\n").split("\t")
    rows = [line.rstrip("\r\n").split("\t") for line in lines[1:]]
    return tsv, header, rows


def typed_label(task: Task, value: str, class_names: list[str] | None = None) -> object:
    """The label as a typed table stores it: a float score, a class number, or a name."""
    if task.labels is None:
        return float(value)
    if class_names is not None:
        return class_names.index(CLASS_NAMES[task.name][int(value)] if value.isdigit() else value)
    return int(value) if value.isdigit() else value


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """A CSV file as Excel's "CSV UTF-8" writes it: with a byte-order mark."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def columns(task: Task, header: list[str], rows: list[list[str]]) -> dict[str, list]:
    table = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    table[task.label_column] = [typed_label(task, v) for v in table[task.label_column]]
    return table


def write_jsonl(path: Path, task: Task, header: list[str], rows: list[list[str]]) -> Path:
    lines = [json.dumps(row) for row in pa.table(columns(task, header, rows)).to_pylist()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_parquet(path: Path, task: Task, header: list[str], rows: list[list[str]]) -> Path:
    pq.write_table(pa.table(columns(task, header, rows)), path)
    return path


def write_saved(path: Path, task: Task, header: list[str], rows: list[list[str]]) -> Path:
    """A ``DatasetDict`` as the hub's ``glue`` has it: ClassLabel labels, float scores."""
    table = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    features = {name: datasets.Value("string") for name in header}
    if task.labels is None:
        features[task.label_column] = datasets.Value("float64")
        table[task.label_column] = [float(v) for v in table[task.label_column]]
    else:
        names = CLASS_NAMES[task.name]
        features[task.label_column] = datasets.ClassLabel(names=names)
        table[task.label_column] = [typed_label(task, v, names) for v in table[task.label_column]]
    train = datasets.Dataset.from_dict(table, features=datasets.Features(features))
    datasets.DatasetDict({"train": train, "validation": train.select(range(3))}).save_to_disk(path)
    return path


WRITERS = {
    "csv": lambda path, task, header, rows: write_csv(path / "train.csv", header, rows),
    "jsonl": lambda path, task, header, rows: write_jsonl(path / "train.jsonl", task, header, rows),
    "parquet": lambda path, task, header, rows: write_parquet(
        path / "train.parquet", task, header, rows
    ),
    "saved": lambda path, task, header, rows: Path(
        f"{write_saved(path / 'saved', task, header, rows)}@train"
    ),
}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize("name", ["sst-2", "mrpc", "rte", "sts-b"])
def test_every_format_reads_the_examples_read_tsv_reads(tmp_path, name, fmt):
    task = get_task(name)
    tsv, header, rows = glue_head(tmp_path, task)
    expected = read_tsv(task, tsv)
    assert len(expected) == ROWS
    location = WRITERS[fmt](tmp_path, task, header, rows)
    source = parse_source(str(location))
    assert source_kind(source) == fmt
    assert read_examples(task, source) == expected
    assert read_examples(task, parse_source(str(tsv))) == expected


def test_named_columns_read_a_headerless_task_from_csv(tmp_path):
    """CoLA's GLUE file has no header: other formats name its columns."""
    cola = get_task("cola")
    source = shared_asset("glue", "CoLA", "train.tsv")
    lines = source.read_text(encoding="utf-8").splitlines()[:ROWS]
    (tmp_path / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    header = ["source", "acceptability", "original_mark", "text"]
    path = write_csv(tmp_path / "train.csv", header, [line.split("\t") for line in lines])
    with pytest.raises(DistillError, match="has no header, so name the text and label columns"):
        read_examples(cola, parse_source(str(path)))
    named = parse_source(str(path), text_columns="text", label_column="acceptability")
    assert read_examples(cola, named) == read_tsv(cola, tmp_path / "train.tsv")


def test_named_columns_override_the_tasks_own(tmp_path):
    sst2 = get_task("sst-2")
    tsv, header, rows = glue_head(tmp_path, sst2)
    renamed = ["text" if name == "sentence" else "y" for name in header]
    path = write_csv(tmp_path / "train.csv", renamed, rows)
    source = parse_source(str(path), text_columns="text", label_column="y")
    assert read_examples(sst2, source) == read_tsv(sst2, tsv)


def test_parse_source_reads_files_folders_and_hub_names(tmp_path):
    existing = tmp_path / "odd@name:1.csv"
    existing.touch()
    assert parse_source(str(existing)) == DataSource(str(existing))
    assert parse_source("dev.parquet", "a, b", "c") == DataSource(
        "dev.parquet", text_columns=("a", "b"), label_column="c"
    )
    assert parse_source(f"{tmp_path}@validation") == DataSource(str(tmp_path), split="validation")
    hub = parse_source("nyu-mll/glue:sst2@validation")
    assert hub == DataSource("nyu-mll/glue", "sst2", "validation")
    assert str(hub) == "nyu-mll/glue:sst2@validation"
    assert source_kind(hub) == "hub"
    with pytest.raises(DistillError, match="a column name is empty"):
        parse_source("train.csv", text_columns="a,,b")


def test_a_hub_name_goes_through_load_dataset(tmp_path, monkeypatch):
    sst2 = get_task("sst-2")
    tsv, header, rows = glue_head(tmp_path, sst2)
    saved = datasets.load_from_disk(write_saved(tmp_path / "saved", sst2, header, rows))
    calls = []

    def load_dataset(path, name=None, split=None):
        calls.append((path, name, split))
        return saved[split]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    examples = read_examples(sst2, parse_source("nyu-mll/glue:sst2@train"))
    assert calls == [("nyu-mll/glue", "sst2", "train")]
    assert examples == read_tsv(sst2, tsv)


def test_an_unreachable_hub_dataset_is_one_line(monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(DistillError) as caught:
        read_examples(get_task("sst-2"), parse_source("nyu-mll/glue:sst2@train"))
    assert str(caught.value).startswith("nyu-mll/glue:sst2@train: cannot load the dataset (")
    assert "\n" not in str(caught.value)
    with pytest.raises(DistillError, match=r"as a hub dataset, name its split"):
        read_examples(get_task("sst-2"), parse_source("nyu-mll/glue:sst2"))


def one_line_error(task: Task, source: DataSource) -> str:
    with pytest.raises(DistillError) as caught:
        read_examples(task, source)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_csv_errors_name_the_file_line_and_column(tmp_path):
    sst2 = get_task("sst-2")
    path = write_csv(tmp_path / "t.csv", ["sentence", "score"], [["good", "1"]])
    assert one_line_error(sst2, DataSource(str(path))) == (
        f"{path}:1: no column named 'label' (columns: sentence, score)"
    )
    path = write_csv(tmp_path / "t.csv", ["sentence", "label"], [["good", "1"], ["bad", "2"]])
    assert one_line_error(sst2, DataSource(str(path))) == (f"{path}:3: label '2' not in ('0', '1')")
    rows = [["a\nmultiline text", "1"], [" ", "0"]]  # the second row starts on line 4
    path = write_csv(tmp_path / "t.csv", ["sentence", "label"], rows)
    assert one_line_error(sst2, DataSource(str(path))) == (
        f"{path}:4: text column 'sentence' is empty"
    )
    path.write_text("sentence,label\ngood,1,extra\n", encoding="utf-8")
    assert one_line_error(sst2, DataSource(str(path))) == (
        f"{path}:2: expected 2 comma-separated fields, got 3"
    )
    stsb = get_task("sts-b")
    path = write_csv(tmp_path / "s.csv", ["sentence1", "sentence2", "score"], [["a", "b", "x"]])
    assert one_line_error(stsb, DataSource(str(path))) == f"{path}:2: score 'x' is not a number"
    path.write_text("", encoding="utf-8")
    assert one_line_error(sst2, DataSource(str(path))) == (
        f"{path}:1: the file is empty; expected a header line"
    )
    path.write_bytes(b"sentence,label\n\xff\xfe,1\n")
    assert one_line_error(sst2, DataSource(str(path))).startswith(f"{path}: not UTF-8 text")


def test_jsonl_errors_name_the_file_and_line(tmp_path):
    sst2 = get_task("sst-2")
    path = tmp_path / "t.jsonl"
    path.write_text('{"sentence": "good", "label": 1}\n{"sentence": "bad"\n', encoding="utf-8")
    assert one_line_error(sst2, DataSource(str(path))).startswith(f"{path}:2: not valid JSON (")
    path.write_text('{"sentence": "good", "label": 1}\n\n{"text": "x"}\n', encoding="utf-8")
    assert one_line_error(sst2, DataSource(str(path))) == (
        f"{path}:3: no field named 'sentence' (fields: text)"
    )
    path.write_text('{"sentence": 7, "label": 1}\n', encoding="utf-8")
    assert one_line_error(sst2, DataSource(str(path))) == (
        f"{path}:1: text column 'sentence' holds 7, not a string"
    )
    path.write_text('{"sentence": "good", "label": 1.0}\n', encoding="utf-8")
    assert one_line_error(sst2, DataSource(str(path))) == (
        f"{path}:1: label '1.0' not in ('0', '1')"
    )


def test_parquet_errors_name_the_file_row_and_column(tmp_path):
    sst2 = get_task("sst-2")
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"sentence": ["good", None], "label": [1, 0]}), path)
    assert one_line_error(sst2, DataSource(str(path))) == (
        f"{path}: row 2: text column 'sentence' is null"
    )
    pq.write_table(pa.table({"sentence": ["good"], "y": [1]}), path)
    assert one_line_error(sst2, DataSource(str(path))) == (
        f"{path}: no column named 'label' (columns: sentence, y)"
    )
    pq.write_table(pa.table({"sentence": ["good", "bad"], "label": [1, None]}), path)
    assert one_line_error(sst2, DataSource(str(path))) == (
        f"{path}: row 2: label column 'label' is null"
    )
    path.write_text("sentence,label\n", encoding="utf-8")
    assert one_line_error(sst2, DataSource(str(path))).startswith(f"{path}: not a Parquet file")


def test_dataset_and_path_errors(tmp_path):
    sst2 = get_task("sst-2")
    tsv, header, rows = glue_head(tmp_path, sst2)
    folder = write_saved(tmp_path / "saved", sst2, header, rows)
    assert one_line_error(sst2, parse_source(str(folder))) == (
        f"{folder}: choose one of the splits train, validation (FOLDER@SPLIT)"
    )
    assert one_line_error(sst2, parse_source(f"{folder}@train", label_column="y")) == (
        f"{folder}@train: no column named 'y' (columns: sentence, label)"
    )
    with pytest.raises(MissingInput, match="not a folder written by datasets' save_to_disk"):
        read_examples(sst2, parse_source(str(tmp_path)))
    with pytest.raises(MissingInput, match="sst-2 data file not found"):
        read_examples(sst2, parse_source(str(tmp_path / "missing.parquet")))
    with pytest.raises(MissingInput, match="no such data file or dataset folder"):
        read_examples(sst2, parse_source(str(tmp_path / "missing")))
    notes = tmp_path / "notes.txt"
    notes.write_text("good\n", encoding="utf-8")
    assert one_line_error(sst2, parse_source(str(notes))).startswith(
        f"{notes}: unknown data format '.txt'; use .tsv, .csv"
    )
    assert one_line_error(sst2, DataSource(str(tsv), split="train")) == (
        f"{tsv}@train: a split (@train) names part of a dataset"
    )
    assert one_line_error(sst2, parse_source(str(tsv), text_columns="label")) == (
        f"{tsv}: a column is named twice in ['label', 'label']"
    )
    assert one_line_error(sst2, parse_source(str(tsv), text_columns="a,b")) == (
        f"{tsv}: sst-2 takes 1 text column(s), not 2 (a, b)"
    )


def test_the_package_imports_without_datasets():
    """``datasets`` is an optional extra: only reading a dataset imports it."""
    code = "import sys, distill.task_data; assert 'datasets' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
