"""``augment.atomic``: every record, recipe, card and progress file is written whole or
not at all, even by two processes at once."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from augment.atomic import remove_stale_partials, write_json_atomically, write_text_atomically


def test_writes_the_text_and_creates_the_folder(tmp_path):
    target = tmp_path / "new" / "folder" / "record.json"
    write_json_atomically(target, {"path": tmp_path, "score": 0.5})
    assert (
        target.read_text(encoding="utf-8")
        == json.dumps({"path": str(tmp_path), "score": 0.5}, indent=2) + "\n"
    )
    assert [path.name for path in target.parent.iterdir()] == ["record.json"]


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_partial_file(tmp_path):
    target = tmp_path / "card.md"
    target.write_text("previous\n", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomically(target, "half \udc00 written")  # a lone surrogate cannot be UTF-8
    assert target.read_text(encoding="utf-8") == "previous\n"
    assert [path.name for path in tmp_path.iterdir()] == ["card.md"]


def _write_many(target: Path, times: int) -> None:
    for index in range(times):
        write_json_atomically(target, {"examples": 3, "index": index})


def test_two_processes_writing_one_file_do_not_race(tmp_path):
    """Every process of a launch writes the same ``recipe.json``; with one shared partial
    file, one process renamed it away from under the other (seen once in a two-process
    general distillation)."""
    target = tmp_path / "recipe.json"
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        writers = [pool.submit(_write_many, target, 300) for _ in range(2)]
        for writer in writers:
            writer.result()  # raises what the process raised
    assert [path.name for path in tmp_path.iterdir()] == ["recipe.json"]
    assert json.loads(target.read_text())["index"] == 299


def test_the_next_write_removes_partial_files_of_writers_that_ended(tmp_path):
    """A writer killed outright leaves its partial file; the next write of the same
    target removes it, while a running writer's partial file stays, and so does one of
    another host, whose processes cannot be seen from here (CI found a partial file left
    by an augmentation process that its launcher had terminated)."""
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    host = socket.gethostname()
    target = tmp_path / "seed0.json"
    left = tmp_path / f".seed0.json.{host}.{int(ended.stdout)}.partial"
    running = tmp_path / f".seed0.json.{host}.{os.getppid()}.partial"
    other_host = tmp_path / f".seed0.json.{host}-elsewhere.{int(ended.stdout)}.partial"
    other_target = tmp_path / f".seed1.json.{host}.{int(ended.stdout)}.partial"
    for partial in (left, running, other_host, other_target):
        partial.write_text("half")
    write_json_atomically(target, {"score": 1})
    kept = [target, running, other_host, other_target]
    assert sorted(tmp_path.iterdir()) == sorted(kept)
    remove_stale_partials(tmp_path / "seed1.json")
    assert not other_target.exists() and running.exists()
