"""End-to-end runs of ``python -m augment`` on tiny models and files the tests write."""

import csv
import json
import subprocess
import sys

import pytest

import augment.runner
from augment.cli import main

SST2 = "sentence\tlabel\n" + "".join(
    f"{text}\t{label}\n"
    for text, label in [
        ("how can anyone drive such a small car ?", 1),
        ("the movie was unbelievable fun", 1),
        ("a boring plot and terrible actors", 0),
        ("great story , funny actors", 1),
        ("slow , sad and old", 0),
    ]
)
MRPC = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "".join(
    f"{q}\t{i}\t{i + 1}\t{a}\t{b}\n"
    for q, i, a, b in [
        (1, 10, "The red car is fast.", "A red vehicle was fast."),
        (0, 20, "She loves the new film.", "He hates old movies."),
        (1, 30, "Actors play a funny story.", "The actors play funny stories."),
    ]
)


@pytest.fixture
def run(tiny_mlm_dir, tiny_glove_file, tmp_path):
    """Run the CLI with the tiny models; return (exit code, output path)."""

    def run_cli(content: str, *flags: str, name: str = "train.tsv", output: str = "out.tsv"):
        source = tmp_path / name
        if not source.exists():
            source.write_text(content, encoding="utf-8")
        target = tmp_path / output
        code = main(
            [
                "--input",
                str(source),
                "--output",
                str(target),
                "--mlm",
                str(tiny_mlm_dir),
                "--glove",
                str(tiny_glove_file),
                "--glove-vocab",
                "0",
                "--k",
                "5",
                "--n_a",
                "6",
                *flags,
            ]
        )
        return code, target

    return run_cli


def test_sst2_original_first_then_augmented_rows_with_labels_copied(run):
    code, output = run(SST2, "--task", "sst-2")
    assert code == 0
    lines = output.read_text().splitlines()
    assert lines[0] == "sentence\tlabel"
    originals = SST2.splitlines()[1:]
    positions = [lines.index(original) for original in originals]
    assert positions == sorted(positions) and positions[0] == 1
    for start, end, original in zip(
        positions, positions[1:] + [len(lines)], originals, strict=True
    ):
        label = original.split("\t")[1]
        for line in lines[start + 1 : end]:
            text, copied = line.split("\t")
            assert copied == label and text != original.split("\t")[0]
            assert len(text.split()) == len(original.split("\t")[0].split())


def test_pairs_augment_one_column_at_a_time_with_the_other_original(run):
    code, output = run(MRPC, "--task", "mrpc", "--n_a", "10", name="mrpc.tsv")
    assert code == 0
    rows = [line.split("\t") for line in output.read_text().splitlines()[1:]]
    originals = [line.split("\t") for line in MRPC.lstrip("\ufeff").splitlines()[1:]]
    current = None
    changed_columns = []
    for row in rows:
        if row in originals:
            current = row
            continue
        assert row[:3] == current[:3]
        changed = [column for column in (3, 4) if row[column] != current[column]]
        assert len(changed) == 1, row
        changed_columns.append((current[1], changed[0]))
    for original in originals:
        mine = [column for key, column in changed_columns if key == original[1]]
        assert mine == sorted(mine), "first-column rows come before second-column rows"
    assert {column for _, column in changed_columns} == {3, 4}


def test_same_seed_gives_byte_identical_output_and_another_seed_differs(run):
    _, first = run(SST2, "--task", "sst-2", "--seed", "1", output="a.tsv")
    _, again = run(SST2, "--task", "sst-2", "--seed", "1", "--batch-size", "2", output="b.tsv")
    _, other = run(SST2, "--task", "sst-2", "--seed", "2", output="c.tsv")
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_interrupted_run_resumes_without_losing_or_duplicating_rows(run, monkeypatch):
    _, expected = run(SST2, "--task", "sst-2", "--chunk-size", "2", output="whole.tsv")
    real = augment.runner._augment_chunk
    calls = {"n": 0}

    def crash_on_second_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(augment.runner, "_augment_chunk", crash_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        run(SST2, "--task", "sst-2", "--chunk-size", "2", output="resumed.tsv")
    resumed = expected.with_name("resumed.tsv")
    assert not resumed.exists() and resumed.with_name("resumed.tsv.partial").exists()
    monkeypatch.setattr(augment.runner, "_augment_chunk", real)
    code, resumed = run(SST2, "--task", "sst-2", "--chunk-size", "2", output="resumed.tsv")
    assert code == 0
    assert resumed.read_bytes() == expected.read_bytes()
    assert not resumed.with_name("resumed.tsv.partial").exists()
    assert not resumed.with_name("resumed.tsv.progress.json").exists()


def test_shards_merged_in_order_equal_the_unsharded_output(run, tmp_path):
    _, whole = run(SST2, "--task", "sst-2", "--chunk-size", "2", output="whole.tsv")
    parts = []
    for index in range(3):
        code, part = run(
            SST2,
            "--task",
            "sst-2",
            "--chunk-size",
            "2",
            "--shard",
            f"{index}/3",
            output=f"part{index}.tsv",
        )
        assert code == 0
        parts.append(str(part))
    assert main(["merge", "--output", str(tmp_path / "merged.tsv"), *parts]) == 0
    assert (tmp_path / "merged.tsv").read_bytes() == whole.read_bytes()


def test_text_and_jsonl_formats(run):
    text = "The red car is fast.\n\nA funny movie!\n"
    code, output = run(text, name="corpus.txt", output="out.txt")
    assert code == 0
    lines = output.read_text().splitlines()
    assert lines[0] == "The red car is fast." and "" in lines and "A funny movie!" in lines
    records = [{"id": 1, "premise": "The red car is fast.", "hypothesis": "It is slow."}]
    content = "".join(json.dumps(r) + "\n" for r in records)
    code, output = run(
        content, "--columns", "premise,hypothesis", name="pairs.jsonl", output="out.jsonl"
    )
    assert code == 0
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert rows[0] == records[0]
    assert all(row["id"] == 1 and list(row) == ["id", "premise", "hypothesis"] for row in rows)


def test_lowercase_output_is_the_official_form(run):
    code, output = run(SST2, "--task", "sst-2", "--lowercase-output", "--p_t", "1.0")
    assert code == 0
    augmented = [line for line in output.read_text().splitlines()[1:] if line not in SST2]
    assert augmented and all(line == line.lower() for line in augmented)


@pytest.mark.parametrize(
    ("content", "flags", "message"),
    [
        (
            SST2.replace("fun\t1", "fun\t1\textra"),
            ["--task", "sst-2"],
            "train.tsv:3: expected 2 columns, found 3",
        ),
        (
            SST2.replace("slow , sad and old", " "),
            ["--task", "sst-2"],
            "train.tsv:6: text column 'sentence' is empty",
        ),
        (SST2, ["--task", "no-such-task"], "unknown task 'no-such-task'"),
        (SST2, ["--task", "mrpc"], "no column named '#1 String'"),
        (
            SST2,
            ["--task", "sst-2", "--max-seq-length", "8"],
            "train.tsv:2: text column 'sentence' has",
        ),
        (
            SST2,
            ["--task", "sst-2", "--mlm", "/nonexistent/model"],
            "not a Hugging Face model folder",
        ),
        ("{not json}\n", ["--columns", "text"], "train.tsv:1: not valid JSON"),
    ],
)
def test_bad_input_gets_a_clear_error_and_no_output(run, capsys, content, flags, message):
    if "not json" in content:
        flags = [*flags, "--format", "jsonl"]
    code, output = run(content, *flags)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not output.exists() and not output.with_name("out.tsv.partial").exists()


def test_missing_input_file(run, tmp_path, capsys):
    code = main(
        [
            "--input",
            str(tmp_path / "none.tsv"),
            "--output",
            str(tmp_path / "o.tsv"),
            "--task",
            "sst-2",
        ]
    )
    assert code == 2 and "none.tsv: no such input file" in capsys.readouterr().err


def test_skip_policy_drops_bad_rows_and_keeps_the_rest(run):
    content = SST2.replace("fun\t1", "fun\t1\textra")
    code, output = run(content, "--task", "sst-2", "--on-bad-row", "skip")
    assert code == 0
    text = output.read_text()
    assert "unbelievable fun" not in text and "a boring plot" in text


def test_module_entry_point_help_lists_the_paper_flags():
    result = subprocess.run(
        [sys.executable, "-m", "augment", "--help"], capture_output=True, text=True, check=True
    )
    for flag in ("--p_t", "--n_a", "--k", "--candidates", "--mlm", "--glove", "--shard"):
        assert flag in result.stdout


def test_csv_keeps_quoting_and_other_fields(run, capsys):
    content = 'id,text,label\n1,"great story, funny actors",1\n2,"the ""red"" car is fast",0\n'
    code, output = run(content, "--columns", "text", name="train.csv", output="out.csv")
    assert code == 0
    lines = output.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == content.splitlines()[:2]
    rows = list(csv.reader(lines))
    assert all(len(row) == 3 for row in rows) and len(rows) > 3
    assert {row[0] for row in rows[1:]} == {"1", "2"}
    for row in rows[1:]:
        assert row[2] == {"1": "1", "2": "0"}[row[0]]
    code, _ = run('a,b\n1,"open quote\n', "--columns", "b", name="bad.csv", output="bad.out")
    assert code == 2 and "bad.csv:2: not a one-line CSV row" in capsys.readouterr().err
