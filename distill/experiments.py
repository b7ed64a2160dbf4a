"""The paper's ablation tables as data, shared by the CLI (``--experiment``) and notebooks.

Each ``Experiment`` is a set of switches of ``python -m distill task``; ``flags()`` gives
the equivalent command-line flags so a notebook can print or run the exact command.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    name: str
    label: str
    general_distillation: bool = True
    intermediate: bool = True
    augmentation: bool = True
    without: tuple[str, ...] = ()
    mapping: str = "uniform"
    # objectives left out of the general distillation the row starts from
    general_without: tuple[str, ...] = ()

    def flags(self) -> list[str]:
        flags = ["--mapping", self.mapping]
        if not self.general_distillation:
            flags.append("--random-init")
        if not self.intermediate:
            flags.append("--no-intermediate")
        if not self.augmentation:
            flags.append("--no-augmentation")
        for objective in self.without:
            flags += ["--without", objective]
        return flags


TABLES: dict[str, tuple[Experiment, ...]] = {
    # Table 2: the two-stage framework and data augmentation.
    "table2": (
        Experiment("full", "TinyBERT4"),
        Experiment("no-gd", "w/o GD", general_distillation=False),
        Experiment("no-td", "w/o TD", intermediate=False),
        Experiment("no-da", "w/o DA", augmentation=False),
    ),
    # Table 3: each distillation objective.
    "table3": (
        Experiment("no-embd", "w/o Embd", without=("embd",)),
        Experiment("no-pred", "w/o Pred", without=("pred",)),
        # Footnote 11: embedding-layer distillation only in general distillation, then
        # embedding- and prediction-layer distillation in task distillation.
        Experiment("no-trm", "w/o Trm", without=("trm",), general_without=("trm",)),
        Experiment("no-attn", "w/o Attn", without=("attn",)),
        Experiment("no-hidn", "w/o Hidn", without=("hidn",)),
    ),
    # Table 4: layer mapping strategies.
    "table4": (
        Experiment("uniform", "Uniform", mapping="uniform"),
        Experiment("top", "Top", mapping="top"),
        Experiment("bottom", "Bottom", mapping="bottom"),
        # Not in the paper: the mapping chosen by hidden-state CKA (distill/adaptive_mapping.py).
        Experiment("adaptive", "Adaptive (ours)", mapping="adaptive"),
    ),
}

EXPERIMENTS: dict[str, Experiment] = {e.name: e for table in TABLES.values() for e in table}
