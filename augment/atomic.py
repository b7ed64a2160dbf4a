"""Whole-or-nothing text files, for every package of the toolkit.

A reader -- another process of the same launch, a resumed run, a second runner on the
same work folder -- sees the previous file or the new one, never part of one. The text
goes to a partial file beside the target, named by the writing process's id so that two
processes writing the same file never rename away each other's partial file, and is
then renamed over the target (atomic on one file system). A failure removes the partial
file and leaves the target as it was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path``, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_json_atomically(path: str | Path, record: object) -> None:
    """``record`` as indented JSON with a final newline; values JSON lacks (paths,
    dates) are written as their ``str``."""
    write_text_atomically(path, json.dumps(record, indent=2, default=str) + "\n")
