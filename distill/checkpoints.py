"""Crash-safe checkpoints and model saves: written aside, renamed into place when complete.

A run killed while saving (or a full disk) must never leave a half-written folder that
looks whole, and a damaged checkpoint must not block every rerun. Layout under a stage's
output folder:

* ``checkpoint/`` -- the newest complete checkpoint;
* ``checkpoint.previous/`` -- the one before it, deleted only once a newer one is in place;
* ``checkpoint.partial/`` -- a checkpoint being written (never read);
* ``checkpoint.damaged/`` -- a checkpoint found damaged on resume, kept for inspection.

``progress.json`` is written last and lists the size and SHA-256 of every other file of
the checkpoint, so resume also detects files truncated or altered after the save.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from accelerate import Accelerator

PROGRESS = "progress.json"
PROGRESS_KEYS = ("epoch", "batches", "step")
CURRENT, PREVIOUS, PARTIAL, DAMAGED = (
    "checkpoint",
    "checkpoint.previous",
    "checkpoint.partial",
    "checkpoint.damaged",
)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB pieces (weights run to gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk, so a rename never outlives its data."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _manifest(folder: Path) -> dict[str, dict[str, int | str]]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != PROGRESS)
    for path in files:
        _fsync(path)
    return {
        path.relative_to(folder).as_posix(): {
            "bytes": path.stat().st_size,
            "sha256": file_sha256(path),
        }
        for path in files
    }


def problem(folder: Path) -> str | None:
    """What is wrong with the checkpoint in ``folder`` (naming the file), or ``None``."""
    try:
        progress = json.loads((folder / PROGRESS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{PROGRESS} is missing"
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"{PROGRESS} is not valid JSON ({error})"
    if not isinstance(progress, dict) or any(key not in progress for key in PROGRESS_KEYS):
        return f"{PROGRESS} lacks one of {', '.join(PROGRESS_KEYS)}"
    for name, expected in progress.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != expected["bytes"]:
            return f"{name} has {size} bytes where {expected['bytes']} were written (truncated?)"
        if file_sha256(path) != expected["sha256"]:
            return f"{name} does not match the SHA-256 written with it (damaged)"
    return None


def read_progress(folder: Path) -> dict:
    """The training progress saved with a checkpoint (without its file list)."""
    progress = json.loads((folder / PROGRESS).read_text(encoding="utf-8"))
    progress.pop("files", None)
    return progress


def find_resumable(accelerator: Accelerator, out: Path, warn: Callable[[str], None]) -> Path | None:
    """The newest whole checkpoint under ``out``, or ``None`` for a fresh start.

    Each damaged one is reported by ``warn`` in one line naming the file and moved to
    ``checkpoint.damaged`` so that a later save never keeps it as the fallback.
    """
    chosen, damaged = None, []
    for folder in (out / CURRENT, out / PREVIOUS):
        if not folder.is_dir():
            continue
        issue = problem(folder)
        if issue is None:
            chosen = folder
            break
        damaged.append(folder)
        warn(f"warning: damaged checkpoint {folder}: {issue}; set aside as {out / DAMAGED}")
    accelerator.wait_for_everyone()  # every process has read the folders before they move
    if accelerator.is_main_process:
        for folder in damaged:
            shutil.rmtree(out / DAMAGED, ignore_errors=True)
            folder.rename(out / DAMAGED)
    accelerator.wait_for_everyone()
    return chosen


def save_checkpoint(accelerator: Accelerator, out: Path, progress: dict) -> None:
    """Write Accelerate's state and ``progress`` aside, then rotate it into ``checkpoint``."""
    partial = out / PARTIAL
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(partial)  # every process writes its own RNG state
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        record = {**progress, "files": _manifest(partial)}
        (partial / PROGRESS).write_text(json.dumps(record), encoding="utf-8")
        _fsync(partial / PROGRESS)
        _fsync(partial)
        if (out / CURRENT).is_dir():
            shutil.rmtree(out / PREVIOUS, ignore_errors=True)
            (out / CURRENT).rename(out / PREVIOUS)
        partial.rename(out / CURRENT)
        _fsync(out)
    accelerator.wait_for_everyone()


def drop_fallback(out: Path) -> None:
    """Once a run has finished, its final checkpoint needs no fallback: free the disk."""
    for name in (PREVIOUS, PARTIAL):
        shutil.rmtree(out / name, ignore_errors=True)


def save_folder(save: Callable[[Path], None], target: Path) -> None:
    """``save(folder)`` into a folder beside ``target``, then swap it in (e.g. ``best/``)."""
    partial = target.with_name(target.name + ".partial")
    old = target.with_name(target.name + ".old")
    shutil.rmtree(partial, ignore_errors=True)
    save(partial)
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    partial.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def restore_folder(target: Path) -> None:
    """Put back the folder ``save_folder`` had moved away when a crash hit mid-swap."""
    old = target.with_name(target.name + ".old")
    if old.is_dir() and not target.exists():
        old.rename(target)


def save_into(save: Callable[[Path], None], target: Path, last: str = "config.json") -> None:
    """``save(folder)`` aside, then move its files into ``target``, ``last`` last.

    For a model saved into a folder that holds other things (logs, checkpoints): readers
    take ``config.json`` as the sign of a finished model, and it appears only after every
    other file is complete.
    """
    partial = target / ".final.partial"
    shutil.rmtree(partial, ignore_errors=True)
    save(partial)
    names = sorted(p.name for p in partial.iterdir())
    for name in sorted(names, key=lambda n: n == last):
        os.replace(partial / name, target / name)
    partial.rmdir()
