"""Add the layer mapping each run used to result records made before the runner stored it.

Records written before ``mapping`` was a record field name their table row in the command
(``--experiment top``); the row's strategy (uniform, top, bottom) resolved for the profile's
student preset and the teacher's layer count is the mapping the run distilled with, and a
row without stage 1 ("w/o TD") has none. The adaptive row's choice was measured on the run's
starting student and saved in its work folder, which is gone: its records get ``null`` and
a ``mapping_note`` saying so. Run once from the project root: ``python
results/add_mappings.py results/cpu``; records that hold a mapping are left as they are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from transformers import AutoConfig

from augment.atomic import write_json_atomically
from distill.experiments.ablations import EXPERIMENTS
from distill.experiments.profiles import PIP_MINILM
from distill.hub import MINILM, resolve_model
from distill.mapping import ADAPTIVE, layer_mapping, parse_mapping
from distill.models import STUDENT_PRESETS

NOTE = "adaptive choice not kept: measured in the run's work folder, deleted before 2026-12-04"


def main(results: Path) -> None:
    for path in sorted(results.rglob("seed*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if "mapping" in record:
            continue
        command = record["command"]
        experiment = EXPERIMENTS[command[command.index("--experiment") + 1]]
        profile = record["profile"]
        student_layers = STUDENT_PRESETS[profile["student_preset"]]["num_hidden_layers"]
        teacher = resolve_model(MINILM if profile["teacher"] == PIP_MINILM else profile["teacher"])
        teacher_layers = AutoConfig.from_pretrained(teacher).num_hidden_layers
        if not experiment.intermediate:
            record["mapping"] = None
        elif experiment.mapping == ADAPTIVE:
            record["mapping"], record["mapping_note"] = None, NOTE
        else:
            strategy = parse_mapping(experiment.mapping)
            record["mapping"] = layer_mapping(strategy, student_layers, teacher_layers)
        write_json_atomically(path, record)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
