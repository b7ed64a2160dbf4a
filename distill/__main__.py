"""Entry point: ``python -m distill <command> ...`` (see ``distill.cli``)."""

from distill.cli import main

main()
