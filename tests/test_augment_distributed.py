"""``torchrun -m augment``: two CPU processes (gloo) split real SST-2 rows, and the main one
writes the output once, byte-identical to a one-process run with the same seed."""

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import pytest
from conftest import shared_asset

from augment.api import AugmentSpec
from augment.cli import main
from augment.distributed import augment_distributed, part_path, process_device
from augment.settings import AugmentError

ROOT = Path(__file__).resolve().parents[1]
ROWS = 40
FLAGS = ["--task", "sst-2", "--mlm", "embedded", "--glove-vocab", "20000"]
FLAGS += ["--n_a", "4", "--k", "8", "--seed", "3"]


@pytest.fixture(scope="module")
def sst2(tmp_path_factory) -> Path:
    """The header and first rows of the real SST-2 training set."""
    lines = shared_asset("glue", "SST-2", "train.tsv").read_text(encoding="utf-8").splitlines()
    source = tmp_path_factory.mktemp("sst2") / "train.tsv"
    source.write_text("\n".join(lines[: ROWS + 1]) + "\n", encoding="utf-8")
    return source


@pytest.fixture(scope="module")
def single(sst2) -> bytes:
    """The output of one process."""
    output = sst2.with_name("single.tsv")
    assert main(["--input", str(sst2), "--output", str(output), *FLAGS, "--chunk-size", "8"]) == 0
    return output.read_bytes()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _torchrun(
    source: Path, output: Path, chunk_size: int = 4, program: tuple[str, ...] = ("-m", "augment")
) -> tuple[subprocess.Popen, IO]:
    """Start ``torchrun -m augment`` (or another ``program`` taking its flags) with two CPU
    processes; stderr goes to a file (a pipe nobody reads while the test waits could fill
    up and stall the run)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_port", str(_free_port()), *program]
    command += ["--input", str(source), "--output", str(output), *FLAGS]
    command += ["--chunk-size", str(chunk_size)]
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _stderr
    return subprocess.Popen(command, env=env, stderr=log), log


def _stderr(launched: tuple[subprocess.Popen, IO]) -> tuple[int, str]:
    """Wait for the run; its exit status and what it wrote on stderr."""
    process, log = launched
    code = process.wait(timeout=600)
    with log:
        log.seek(0)
        return code, log.read().decode("utf-8", "replace")


def _finish(launched: tuple[subprocess.Popen, IO]) -> str:
    code, err = _stderr(launched)
    assert code == 0, err
    return err


def test_two_processes_write_the_one_process_bytes_once(sst2, single, tmp_path):
    output = tmp_path / "aug.tsv"
    err = _finish(_torchrun(sst2, output))
    assert output.read_bytes() == single
    assert sorted(path.name for path in tmp_path.iterdir()) == ["aug.tsv"]
    assert "augment 0/2" in err and "augment 1/2" in err  # each process did its half


GLOO_THREADS_AFTER_MAIN = """
import os, sys
from augment.cli import main

code = main(sys.argv[1:])
names = []
for thread in os.listdir("/proc/self/task"):
    try:
        names.append(open(f"/proc/self/task/{thread}/comm").read())
    except OSError:  # it ended meanwhile
        pass
print("gloo threads left:", sum("gloo" in name for name in names), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_the_process_group_is_gone_when_the_command_returns(sst2, tmp_path):
    """Gloo's threads end before Python shuts down. One that outlives it may still be
    releasing a finished collective then, which aborts the process after its work is done
    (seen as a rare exit -6 under load while the group was held past its destruction)."""
    script = tmp_path / "run_augment.py"
    script.write_text(GLOO_THREADS_AFTER_MAIN, encoding="utf-8")
    err = _finish(_torchrun(sst2, tmp_path / "aug.tsv", program=(str(script),)))
    assert err.count("gloo threads left: 0") == 2, err


def test_a_killed_run_resumes_in_every_process(sst2, single, tmp_path):
    output = tmp_path / "aug.tsv"
    parts = [part_path(output, rank) for rank in (0, 1)]
    progress = [part.with_name(part.name + ".progress.json") for part in parts]
    launched = _torchrun(sst2, output, chunk_size=1)  # a chunk a row: time to kill it
    deadline = time.time() + 300
    while not all(path.is_file() for path in progress) and launched[0].poll() is None:
        assert time.time() < deadline, "no process recorded progress"
        time.sleep(0.01)
    launched[0].terminate()  # torchrun passes SIGTERM on to every process, as on a cluster
    _stderr(launched)
    done = [json.loads(path.read_text())["done"] for path in progress if path.is_file()]
    assert not output.exists() and done and all(0 < lines < ROWS // 2 for lines in done)
    err = _finish(_torchrun(sst2, output, chunk_size=1))
    assert err.count("resuming") == len(done)
    assert output.read_bytes() == single
    assert sorted(path.name for path in tmp_path.iterdir()) == ["aug.tsv"]


def test_a_bad_row_stops_every_process_with_one_error_line_and_no_output(tmp_path):
    source = tmp_path / "train.tsv"
    source.write_text("sentence\tlabel\ngood fun\t1\nno label here\nslow\t0\n", encoding="utf-8")
    output = tmp_path / "aug.tsv"
    code, err = _stderr(_torchrun(source, output))
    assert code != 0
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {source}:3: expected 2 columns, found 1"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["train.tsv"]


def test_each_process_takes_its_own_device():
    assert process_device("cpu", 3) == "cpu"
    assert process_device("cuda", 3) == "cuda:3"
    with pytest.raises(AugmentError, match="give the type only"):
        process_device("cuda:0", 1)


def test_a_finished_part_is_kept_when_its_command_runs_again(
    tiny_mlm_dir, tiny_glove_file, tmp_path, caplog
):
    source = tmp_path / "train.tsv"
    source.write_text("sentence\tlabel\ngood fun\t1\nslow and sad\t0\n", encoding="utf-8")
    part = part_path(tmp_path / "aug.tsv", 1)
    models = ["--mlm", str(tiny_mlm_dir), "--glove", str(tiny_glove_file), "--glove-vocab", "0"]
    argv = ["--input", str(source), "--output", str(part), "--task", "sst-2", *models]
    argv += ["--shard", "1/2", "--k", "3", "--n_a", "3"]
    caplog.set_level(logging.INFO, logger="augment")
    assert main(argv) == 0
    written = part.stat().st_mtime_ns, part.read_bytes()
    assert main(argv) == 0
    assert "already finished; kept" in caplog.text
    assert (part.stat().st_mtime_ns, part.read_bytes()) == written
    assert main([*argv, "--seed", "5"]) == 0  # another job: done again
    assert part.stat().st_mtime_ns != written[0]


def test_an_error_in_one_process_stops_both_and_the_main_one_reports_it(tmp_path):
    rows = ["good fun", "slow and sad", "a red car", " ".join(["word"] * 600)]
    source = tmp_path / "train.tsv"
    source.write_text("sentence\tlabel\n" + "".join(f"{row}\t1\n" for row in rows))
    code, err = _stderr(_torchrun(source, tmp_path / "aug.tsv"))
    assert code != 0
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"{source}:5: text column 'sentence' has" in errors[0], errors
    assert not (tmp_path / "aug.tsv").exists()


def test_manual_shards_and_torchrun_do_not_combine(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    spec = AugmentSpec(tmp_path / "train.tsv", tmp_path / "aug.tsv", task="sst-2", shard=(0, 2))
    with pytest.raises(AugmentError, match="under torchrun leave it out"):
        augment_distributed(spec)
