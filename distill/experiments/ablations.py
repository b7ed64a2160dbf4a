"""The paper's ablation tables as data: each row is a set of switches of task distillation.

An ``Experiment`` applies to a :class:`distill.stages.TaskSpec` (:meth:`Experiment.apply`);
``python -m distill task --experiment NAME`` takes the same switches as defaults that its
explicit flags override, and :meth:`Experiment.flags` prints them for a notebook.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from distill.stages import TaskSpec, field_flags, spec_fields


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
    # N_a of the row's augmented set, as a multiple of the profile's (a study, not the paper)
    n_a_scale: int = 1

    def settings(self) -> dict[str, object]:
        """The row's values of task distillation's settings, by their spec field names."""
        return {
            "random_init": not self.general_distillation,
            "no_intermediate": not self.intermediate,
            "no_augmentation": not self.augmentation,
            "without": self.without,
            "mapping": self.mapping,
        }

    def apply(self, spec: TaskSpec) -> TaskSpec:
        """``spec`` with this row's switches."""
        values = self.settings()
        distill = replace(
            spec.distill, without=values.pop("without"), mapping=values.pop("mapping")
        )
        return replace(spec, distill=distill, **values)

    def same_run_as(self, other: Experiment) -> bool:
        """Whether the two rows train the same students (same switches, same start)."""
        mine = (self.settings(), self.general_without, self.n_a_scale)
        return mine == (other.settings(), other.general_without, other.n_a_scale)

    def flags(self) -> list[str]:
        """The ``python -m distill task`` flags of this row (defaults left out)."""
        known = spec_fields(TaskSpec)
        return [
            flag
            for name, value in self.settings().items()
            for flag in field_flags(known[name], value)
        ]


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

AUGMENTATION_SIZE = "augmentation-size"
STUDIES: dict[str, tuple[Experiment, ...]] = {
    # Does a larger N_a change the gap between TinyBERT4 and "w/o DA" (Table 2's rows)?
    AUGMENTATION_SIZE: (Experiment("da-n_a-x4", "N_a x4", n_a_scale=4),),
}
"""Rows that are not in the paper, run by name (``experiments run augmentation-size``) and
compared with Table 2's runs of the same seeds; ``experiments run`` alone runs TABLES."""

ROWS: dict[str, tuple[Experiment, ...]] = TABLES | STUDIES
EXPERIMENTS: dict[str, Experiment] = {e.name: e for rows in ROWS.values() for e in rows}

FULL = EXPERIMENTS["full"]
FULL_RUN = ("table2", FULL.label)
"""Table 3's "TinyBERT4" and Table 4's "Uniform" rows repeat the full procedure, as in the
paper; they are Table 2's run, trained and stored once (under Table 2) and shown in each."""
REPEATS_FULL_RUN = {"table3": "TinyBERT4", "table4": "Uniform"}
