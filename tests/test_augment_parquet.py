"""Parquet in and out: texts from named columns, every other column carried with its type,
the same augmented texts as the TSV path, one-line errors, shards that merge to one run."""

import csv
from pathlib import Path

import pandas as pd
import pytest

import augment.api
import augment.runner
from augment.cli import main

ROWS = [
    "how can anyone drive such a small car ?",
    "the movie was unbelievable fun",
    "a boring plot and terrible actors",
    "great story , funny actors",
    "slow , sad and old",
    "a red car and a funny story",
]
TABLE = pd.DataFrame(
    {
        "sentence": ROWS,
        "label": [i % 2 for i in range(len(ROWS))],
        "score": [i / 4 for i in range(len(ROWS))],
        "day": pd.date_range("2020-01-01", periods=len(ROWS), unit="ms"),
        "id": [f"row{i}" for i in range(len(ROWS))],
    }
)


@pytest.fixture
def cli(tiny_mlm_dir, tiny_glove_file):
    """``python -m augment`` in-process with the tiny models; returns the exit status."""

    def run_cli(source: Path, output: Path, *flags: str) -> int:
        models = ["--mlm", str(tiny_mlm_dir), "--glove", str(tiny_glove_file), "--glove-vocab", "0"]
        argv = ["--input", str(source), "--output", str(output), *models]
        return main([*argv, "--k", "5", "--n_a", "4", "--chunk-size", "2", *flags])

    return run_cli


@pytest.fixture
def table(tmp_path) -> Path:
    path = tmp_path / "train.parquet"
    TABLE.to_parquet(path)
    return path


def test_parquet_augments_to_the_tsv_texts_and_carries_every_column(cli, table, tmp_path):
    tsv = tmp_path / "train.tsv"
    TABLE[["sentence", "label"]].to_csv(tsv, sep="\t", index=False, quoting=csv.QUOTE_NONE)
    assert cli(tsv, tmp_path / "aug.tsv", "--task", "sst-2") == 0
    assert cli(table, tmp_path / "aug.parquet", "--columns", "sentence") == 0
    from_tsv = pd.read_csv(tmp_path / "aug.tsv", sep="\t", quoting=csv.QUOTE_NONE)
    augmented = pd.read_parquet(tmp_path / "aug.parquet")
    assert len(augmented) > 2 * len(TABLE)
    assert augmented["sentence"].tolist() == from_tsv["sentence"].tolist()
    assert augmented["label"].tolist() == from_tsv["label"].tolist()
    assert augmented.dtypes.to_dict() == TABLE.dtypes.to_dict()
    originals = augmented[augmented["sentence"].isin(ROWS)]
    assert originals.reset_index(drop=True).equals(TABLE)
    # every augmented row carries the other columns of the example before it
    group = augmented["sentence"].isin(ROWS).cumsum() - 1
    carried = ["label", "score", "day", "id"]
    assert (
        augmented[carried]
        .reset_index(drop=True)
        .equals(TABLE[carried].iloc[group].reset_index(drop=True))
    )


def test_parquet_shards_merge_to_the_bytes_of_one_run(cli, table, tmp_path):
    whole = tmp_path / "whole.parquet"
    assert cli(table, whole, "--columns", "sentence") == 0
    parts = [tmp_path / f"part{index}.parquet" for index in range(2)]
    for index, part in enumerate(parts):
        assert cli(table, part, "--columns", "sentence", "--shard", f"{index}/2") == 0
    merged = tmp_path / "merged.parquet"
    assert main(["merge", "--output", str(merged), *map(str, parts)]) == 0
    assert merged.read_bytes() == whole.read_bytes()


@pytest.fixture
def no_models(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(augment.api, "_masked_lm", refuse)
    monkeypatch.setattr(augment.api, "_word_vectors", refuse)


@pytest.mark.parametrize(
    ("columns", "table_fixture", "message"),
    [
        ("text", TABLE, "train.parquet: no column named 'text' (columns: sentence, label,"),
        ("label", TABLE, "train.parquet: text column 'label' holds int64, not strings"),
        ("sentence", TABLE.assign(sentence=[*ROWS[:3], None, *ROWS[4:]]), "row 4: "),
        ("sentence", TABLE.assign(sentence=[*ROWS[:1], " ", *ROWS[2:]]), "row 2: "),
        ("sentence", None, "train.parquet: not a Parquet file"),
    ],
)
def test_bad_parquet_input_is_one_line_before_models_load_and_nothing_is_written(
    cli, tmp_path, no_models, capsys, columns, table_fixture, message
):
    source = tmp_path / "train.parquet"
    if table_fixture is None:
        source.write_text("sentence\nnot parquet\n", encoding="utf-8")
    else:
        table_fixture.to_parquet(source)
    assert cli(source, tmp_path / "aug.parquet", "--columns", columns) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert [path.name for path in tmp_path.iterdir()] == ["train.parquet"]


def test_an_interrupted_parquet_run_leaves_no_table_and_resumes_to_the_same_bytes(
    cli, table, tmp_path, monkeypatch
):
    whole = tmp_path / "whole.parquet"
    assert cli(table, whole, "--columns", "sentence") == 0
    real = augment.runner._augment_chunk
    calls = []

    def crash_on_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(augment.runner, "_augment_chunk", crash_on_second_chunk)
    resumed = tmp_path / "resumed.parquet"
    with pytest.raises(KeyboardInterrupt):
        cli(table, resumed, "--columns", "sentence")
    assert not resumed.exists() and resumed.with_name("resumed.parquet.partial").exists()
    monkeypatch.setattr(augment.runner, "_augment_chunk", real)
    assert cli(table, resumed, "--columns", "sentence") == 0
    assert resumed.read_bytes() == whole.read_bytes()
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "resumed.parquet",
        "train.parquet",
        "whole.parquet",
    ]
