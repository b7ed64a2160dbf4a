"""The settings of Algorithm 1 and the one error type of ``augment``, free of heavy imports.

They live apart from the augmenter so that the command line can derive its defaults from
them (and answer ``--help`` or a bad flag) without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass


class AugmentError(Exception):
    """A user error: bad input, output, flags or models. The message is one line that names
    the file (and line) or the flag and the problem; the command line prints it and exits 2."""


@dataclass(frozen=True)
class AugmentSettings:
    """The knobs of Algorithm 1 and the choices the paper leaves open.

    ``clean`` chooses the candidate filter (see README, "Candidates"); ``max_seq_length``
    ``None`` means the masked LM's own maximum.
    """

    p_t: float = 0.4
    n_a: int = 20
    k: int = 15
    clean: bool = True
    paired_mlm_input: bool = True
    lowercase_output: bool = False
    max_seq_length: int | None = None


class TextTooLong(ValueError):
    """The sentence has more word pieces than the masked LM can take."""
