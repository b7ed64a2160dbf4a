"""Whole-or-nothing text files, for every package of the toolkit.

A reader -- another process of the same launch, a resumed run, a second runner on the
same work folder -- sees the previous file or the new one, never part of one. The text
goes to a partial file beside the target, named by the writing host and process id so that
two processes writing the same file never rename away each other's partial file, and is
then renamed over the target (atomic on one file system). A failure removes the partial
file and leaves the target as it was; a writer killed outright (SIGKILL, or the SIGTERM a
launcher sends) cannot, so the next write of the same target removes the partial files of
this host's processes that have ended (another host's processes cannot be seen from here,
so their partial files stay).
"""

from __future__ import annotations

import glob
import json
import os
import socket
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path``, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path)
    partial = _partial_path(path, os.getpid())
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def remove_stale_partials(path: str | Path) -> None:
    """Remove the partial files of ``path`` left by this host's writers that no longer
    run; for callers that delete a target, which no later write will sweep."""
    path = Path(path)
    prefix = f".{path.name}.{socket.gethostname()}."
    for partial in path.parent.glob(glob.escape(prefix) + "*" + PARTIAL_SUFFIX):
        writer = partial.name[len(prefix) : -len(PARTIAL_SUFFIX)]
        if writer.isdigit() and not _running(int(writer)):
            partial.unlink(missing_ok=True)


def _partial_path(path: Path, pid: int) -> Path:
    return path.with_name(f".{path.name}.{socket.gethostname()}.{pid}{PARTIAL_SUFFIX}")


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists; signal 0 only checks (POSIX). Elsewhere every
    writer counts as running, so nothing is removed."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_json_atomically(path: str | Path, record: object) -> None:
    """``record`` as indented JSON with a final newline; values JSON lacks (paths,
    dates) are written as their ``str``."""
    write_text_atomically(path, json.dumps(record, indent=2, default=str) + "\n")
