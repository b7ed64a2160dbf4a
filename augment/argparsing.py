"""argparse with the project's error convention, for every ``augment`` command."""

from __future__ import annotations

import argparse


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr with exit status 2 (argparse
    itself prints the whole usage first); the line points to ``--help``."""

    def error(self, message: str) -> None:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")
