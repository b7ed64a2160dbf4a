"""User errors of ``distill``: bad flags, data, models or folders.

Library functions raise these (they are ``ValueError``s, so callers that caught
``ValueError`` still do); the command line prints the one-line message and exits with
status 2, as ``augment`` does, instead of showing a traceback.
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


def report_user_errors(command: Callable[[], object]) -> None:
    """Run ``command``; a user error (``distill``'s or ``augment``'s, which the runner
    calls) becomes one line on stderr and exit status 2 instead of a traceback."""
    try:
        command()
    except (DistillError, AugmentError) as error:
        print(f"python -m distill: error: {error}", file=sys.stderr)
        sys.exit(2)
