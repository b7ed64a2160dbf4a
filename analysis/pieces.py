"""What a grid's shared pieces came out as, read from the records the runner wrote: each
task's teacher candidates with their dev scores (the one the task kept marked), general
distillation's final losses, and the augmented sets' sizes.

    python -m analysis.pieces results/cpu [--update README.md]

Why a module: the README's table of shared pieces must come from the records, like its
result tables; what each piece cost is :mod:`analysis.cost`'s.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.tables import TASK_ORDER, add_update_option, to_markdown, update_or_exit
from distill.experiments.layout import ResultsLayout, parse_augment_name
from distill.glue import get_task

LOSS_PARTS = ("embd", "attn", "hidn")


def teacher_rows(record: dict) -> dict[str, str]:
    """One row per teacher candidate (the record itself when it lists none)."""
    task = get_task(record["task"])
    candidates = record.get("candidates") or [record]
    rows = {}
    for candidate in candidates:
        kept = " (kept)" if len(candidates) > 1 and candidate["model"] == record["model"] else ""
        label = f"{task.directory} teacher from {Path(candidate['model']).name}{kept}"
        rows[label] = _scores(candidate["metrics"], task.metric)
    return rows


def _scores(metrics: dict[str, float], primary: str) -> str:
    """``dev F1 84.6, acc 76.7``: the task's metric first, x100."""
    named = {key.rpartition("/")[2]: value for key, value in metrics.items()}
    order = [primary, *sorted(name for name in named if name != primary)]
    shown = ", ".join(
        f"{name if name == 'acc' else name.upper()} {100 * named[name]:.1f}" for name in order
    )
    return f"dev {shown}"


def general_row(record: dict) -> str:
    """Final loss and its parts, and the number of training sequences."""
    log = record.get("final_log") or {}
    parts = ", ".join(f"{part} {log[part]:.2f}" for part in LOSS_PARTS if part in log)
    loss = f"final loss {log['loss']:.2f}" + (f" ({parts})" if parts else "") if log else ""
    examples = record.get("examples")
    sequences = f"{examples:,} sequences of the corpus" if examples else ""
    return "; ".join(text for text in (loss, sequences) if text) or "–"


def augment_row(record: dict) -> str:
    return f"{record['input_lines']:,} lines -> {record['output_lines']:,} lines"


def pieces_table(results_root: str | Path) -> pd.DataFrame:
    """Every shared piece with what it came out as."""
    layout = ResultsLayout(Path(results_root))
    rows: dict[str, str] = {}
    for path in sorted(layout.teacher_records(), key=_task_position):
        rows |= teacher_rows(_read(path))
    for path in layout.general_records():
        start = path.stem.removeprefix("general").replace("-", " ").strip()
        rows["general distillation" + (f" ({start})" if start else "")] = general_row(_read(path))
    for path in sorted(layout.augment_records(), key=_task_position):
        task, scale = parse_augment_name(path.stem)
        label = f"augmentation {get_task(task).directory}" + (
            f" (N_a x{scale})" if scale > 1 else ""
        )
        rows[label] = augment_row(_read(path))
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["result"])
    frame.index.name = "piece"
    return frame


def _task_position(path: Path) -> tuple[int, str]:
    """Our columns' task order (``mrpc`` before ``mrpc-n_a-x4`` before ``cola``)."""
    task = parse_augment_name(path.stem)[0]
    return TASK_ORDER.index(task) if task in TASK_ORDER else len(TASK_ORDER), path.stem


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m analysis.pieces RESULTS``: print the shared pieces under RESULTS."""
    parser = argparse.ArgumentParser(prog="python -m analysis.pieces", description=main.__doc__)
    parser.add_argument("results", type=Path, help="e.g. results/cpu")
    add_update_option(parser, "the table between <!-- pieces:begin --> and <!-- pieces:end -->")
    args = parser.parse_args(argv)
    markdown = to_markdown(pieces_table(args.results))
    print(markdown)
    update_or_exit(parser, args.update, {"pieces": markdown})


if __name__ == "__main__":
    main()
