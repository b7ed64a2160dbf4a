"""Rewrite the machine paths in committed result records as the runner now writes them.

Records written before the runner made its paths portable hold absolute paths of the
machine that ran them (``/work/main/runs/cpu/...``, ``/work/shared/...``, the pip MiniLM's
extracted folder). This rewrites every string value of ``results/**/*.json`` that is such a
path: under the project's parent folder -> relative to the project root (``runs/cpu/...``,
``../shared/...``), the pip MiniLM folder -> its short name ``minilm``. Metrics and every
other value are left as they are. Run once from the project root on the machine that made
the records: ``python results/make_portable.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from distill.experiments.profiles import ROOT
from distill.hub import MINILM, pip_minilm_path


def portable(value: object, minilm: str) -> object:
    if isinstance(value, dict):
        return {key: portable(item, minilm) for key, item in value.items()}
    if isinstance(value, list):
        return [portable(item, minilm) for item in value]
    if isinstance(value, str) and value.startswith("/"):
        if value == minilm:
            return MINILM
        if Path(value).is_relative_to(ROOT.parent):
            return os.path.relpath(value, ROOT)
    return value


def main() -> None:
    minilm = str(pip_minilm_path())
    for path in sorted((ROOT / "results").rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        rewritten = json.dumps(portable(json.loads(text), minilm), indent=2) + "\n"
        if rewritten != text:
            path.write_text(rewritten, encoding="utf-8")
            print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
