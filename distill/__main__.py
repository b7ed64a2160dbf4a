"""Entry point: ``python -m distill <command> ...``.

``experiments`` runs the paper's tables (:mod:`distill.experiments.runner`, which builds the
stages' specs from a profile); every other command is one stage (:mod:`distill.cli`).
"""

import sys

from distill.errors import report_user_errors


def run_command(argv: list[str]) -> None:
    """Run ``argv``; a user error is one line on stderr and exit status 2."""
    if argv[:1] == ["experiments"]:
        from distill.experiments.runner import main

        report_user_errors(lambda: sys.exit(main(argv[1:])))
    else:
        from distill.cli import main

        main(argv)


if __name__ == "__main__":
    run_command(sys.argv[1:])
