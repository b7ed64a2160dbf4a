"""The paper's experiments: profiles, table rows, the results layout and the runner.

The layer above the stages (:mod:`distill.stages`): it builds their specs from a profile and
a table row and calls them. The rows are importable from here.
"""

from distill.experiments.ablations import EXPERIMENTS, TABLES, Experiment

__all__ = ["EXPERIMENTS", "TABLES", "Experiment"]
