"""Nothing lost, nothing cryptic: output checks before any model loads, merge checks,
per-example progress, balanced shards, and one line + exit 2 for every user error."""

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import tiny

import augment.api
import augment.runner
from augment.cli import main
from augment.runner import shard_range
from augment.stopwords import ENGLISH_STOPWORDS

ROWS = [
    "how can anyone drive such a small car ?",
    "the movie was unbelievable fun",
    "a boring plot and terrible actors",
    "great story , funny actors",
    "slow , sad and old",
    "a red car and a funny story",
]
SST2 = "sentence\tlabel\n" + "".join(f"{text}\t{i % 2}\n" for i, text in enumerate(ROWS))


@pytest.fixture
def cli(tiny_mlm_dir, tiny_glove_file, tmp_path):
    """Run ``python -m augment`` in-process with the tiny models on ``tmp_path/train.tsv``."""
    source = tmp_path / "train.tsv"
    source.write_text(SST2, encoding="utf-8")

    def run_cli(output: Path | str, *flags: str, input: Path = source) -> int:
        models = ["--mlm", str(tiny_mlm_dir), "--glove", str(tiny_glove_file), "--glove-vocab", "0"]
        argv = ["--input", str(input), "--output", str(output), "--task", "sst-2", *models]
        return main([*argv, "--k", "5", "--n_a", "4", *flags])

    return run_cli


@pytest.fixture
def no_models(monkeypatch):
    """Fail the test if a model would load: output problems must be found before that."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the output was checked")

    monkeypatch.setattr(augment.api, "_masked_lm", refuse)
    monkeypatch.setattr(augment.api, "_word_vectors", refuse)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


def test_output_equal_to_input_is_refused_and_the_input_untouched(cli, tmp_path, no_models, capsys):
    source = tmp_path / "train.tsv"
    link = tmp_path / "link.tsv"
    link.symlink_to(source)
    (tmp_path / "sub").mkdir()
    for spelling in (source, tmp_path / "sub" / ".." / "train.tsv", link):
        assert cli(spelling) == 2
        assert "is the input file" in _one_error_line(capsys)
        assert source.read_text(encoding="utf-8") == SST2 and link.is_symlink()
    assert cli(source, input=link) == 2
    assert "is the input file" in _one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.tsv", "sub", "train.tsv"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/out.tsv", "does not exist; create it first"),
        ("train.tsv/out.tsv", "is not a folder"),
        ("sub", "is a folder; name a file"),
    ],
)
def test_output_in_a_missing_or_wrong_folder_fails_before_models_load(
    cli, tmp_path, no_models, capsys, where, message
):
    (tmp_path / "sub").mkdir()
    assert cli(tmp_path / where) == 2
    assert message in _one_error_line(capsys)
    assert not (tmp_path / "missing").exists()


def test_output_in_an_unwritable_folder_fails_before_models_load(cli, tmp_path, no_models, capsys):
    # /proc refuses new files even to root; a read-only folder shows the same for other users.
    folders = [Path("/proc")] if Path("/proc/self").is_dir() else []
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        folders.append(locked)
    if not folders:
        pytest.skip("no folder that this user cannot write to")
    for folder in folders:
        assert cli(folder / "out.tsv") == 2
        assert "cannot write in" in _one_error_line(capsys)


def _shards(cli, tmp_path, count: int, *flags: str) -> list[str]:
    parts = []
    for index in range(count):
        part = tmp_path / f"part{index}.tsv"
        assert cli(part, "--shard", f"{index}/{count}", *flags) == 0
        parts.append(str(part))
    return parts


def test_merge_refuses_incomplete_misordered_or_mixed_shards_and_writes_nothing(
    cli, tmp_path, capsys
):
    parts = _shards(cli, tmp_path, 2)
    merged = tmp_path / "merged.tsv"
    other = tmp_path / "other"
    other.mkdir()
    other_seed = _shards(cli, other, 2, "--seed", "7")
    cases = [
        ([parts[1], parts[0]], "all and in order; got 1/2 0/2"),
        ([parts[0]], "all and in order; got 0/2"),
        ([parts[0], parts[0]], "all and in order; got 0/2 0/2"),
        ([parts[0], other_seed[1]], "different jobs"),
        ([parts[0], str(tmp_path / "train.tsv")], "not a finished --shard output"),
    ]
    capsys.readouterr()
    for shards, message in cases:
        assert main(["merge", "--output", str(merged), *shards]) == 2
        assert message in _one_error_line(capsys)
        assert not merged.exists() and not merged.with_name("merged.tsv.partial").exists()
    with open(parts[1], "a", encoding="utf-8") as changed:
        changed.write("edited by hand\t0\n")
    assert main(["merge", "--output", str(merged), *parts]) == 2
    assert "when it finished" in _one_error_line(capsys)
    assert main(["merge", "--output", parts[0], *parts]) == 2
    assert "is the input file" in _one_error_line(capsys)


def test_shards_split_examples_evenly_and_merge_to_the_unsharded_bytes(cli, tmp_path):
    assert shard_range(3000, (0, 2)) == (0, 1500) and shard_range(3000, (1, 2)) == (1500, 3000)
    assert [shard_range(7, (i, 3)) for i in range(3)] == [(0, 2), (2, 4), (4, 7)]
    whole = tmp_path / "whole.tsv"
    assert cli(whole, "--chunk-size", "2") == 0
    parts = _shards(cli, tmp_path, 2, "--chunk-size", "2")
    originals = [
        sum(line.split("\t")[0] in ROWS for line in Path(part).read_text().splitlines())
        for part in parts
    ]
    assert originals == [3, 3]
    merged = tmp_path / "merged.tsv"
    assert main(["merge", "--output", str(merged), *parts]) == 0
    assert merged.read_bytes() == whole.read_bytes()


def test_progress_moves_per_example_within_a_chunk(cli, tmp_path, monkeypatch):
    words = [w for w in tiny.WORDS if w.isalpha() and w not in ENGLISH_STOPWORDS]
    rng = random.Random(0)
    sentences = {" ".join(rng.sample(words, 6)) for _ in range(400)}
    source = tmp_path / "big.tsv"
    rows = sorted(sentences)[:300]
    source.write_text("sentence\tlabel\n" + "".join(f"{text}\t1\n" for text in rows))
    positions = []

    class Recorder(augment.runner.tqdm):
        def update(self, n=1):
            super().update(n)
            positions.append(self.n)

    monkeypatch.setattr(augment.runner, "tqdm", Recorder)
    assert cli(tmp_path / "out.tsv", "--batch-size", "16", input=source) == 0
    assert positions == sorted(positions) and positions[-1] == 300
    assert len(set(positions)) >= 20


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--n_a", "0"], "--n_a must be at least 1"),
        (["--n-a", "0"], "--n_a must be at least 1"),
        (["--p-t", "1.5"], "--p_t must be between 0 and 1"),
        (["--k", "0"], "--k must be at least 1"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--shard", "2/2"], "need 0 <= INDEX < COUNT"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["--task", "nope"], "unknown task 'nope'"),
        (["--output", "/nonexistent-folder/out.tsv"], "does not exist; create it first"),
    ],
)
def test_every_user_error_is_one_line_and_exit_2_without_torch(tmp_path, flags, message):
    source = tmp_path / "train.tsv"
    source.write_text(SST2, encoding="utf-8")
    argv = ["--input", str(source), "--output", str(tmp_path / "out.tsv"), "--task", "sst-2"]
    script = (
        "import sys; from augment.cli import main; code = main(sys.argv[1:]); "
        "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *argv, *flags], capture_output=True, text=True
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


@pytest.mark.parametrize("argv", [["merge"], ["merge", "--output", "x"], ["--input", "a"]])
def test_argument_errors_of_augment_and_merge_are_one_line(argv):
    command = [sys.executable, "-m", "augment", *argv]
    result = subprocess.run(command, capture_output=True, text=True)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines


def test_argument_errors_of_the_masked_lm_commands_are_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "augment.mlm", "evaluate"], capture_output=True, text=True
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, lines
    assert "required: --mlm, --corpus" in lines[0]
