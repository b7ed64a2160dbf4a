"""User errors of ``distill``: bad flags, data, models or folders.

Library functions raise these (they are ``ValueError``s, so callers that caught
``ValueError`` still do); the command line prints the one-line message and exits with
status 2, as ``augment`` does, instead of showing a traceback. The argparse number types
refuse an out-of-range flag the same way, before any work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from augment.settings import AugmentError


class DistillError(ValueError):
    """A problem with what the user asked for; the message is one line naming the flag,
    file (and line) or model and the problem."""


class MissingInput(DistillError, FileNotFoundError):
    """A file or folder the user named does not exist (or is not what it should be)."""


class OneLineParser(argparse.ArgumentParser):
    """Argument errors are one line (``prog: error: ...``) and exit status 2, like every
    other user error of the command, instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def number_type(kind: type, low: float, low_inclusive: bool, high: float | None = None):
    """An argparse type for ``kind`` values in a range, so that a bad number is refused
    before any folder is made or model loaded (``--batch-size 0`` used to divide by zero)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if (
            value < low
            or (value == low and not low_inclusive)
            or (high is not None and value >= high)
        ):
            bound = f">= {low}" if low_inclusive else f"> {low}"
            if high is not None:
                bound += f" and < {high}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {bound}")
        return value

    return parse


POSITIVE_INT = number_type(int, 1, True)
POSITIVE = number_type(float, 0, False)
FRACTION = number_type(float, 0, True, 1)
NON_NEGATIVE = number_type(float, 0, True)


def report_user_errors(command: Callable[[], object]) -> None:
    """Run ``command``; a user error (``distill``'s or ``augment``'s, which the runner
    calls) becomes one line on stderr and exit status 2 instead of a traceback."""
    try:
        command()
    except (DistillError, AugmentError) as error:
        print(f"python -m distill: error: {error}", file=sys.stderr)
        sys.exit(2)
