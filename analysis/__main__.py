"""``python -m analysis COMMAND ...``: the analysis commands under one name.

    python -m analysis attention --model minilm --text "the movie was great ." --out figures/
    python -m analysis tables results/cpu        (same as python -m analysis.tables)
    python -m analysis cost results/cpu          (same as python -m analysis.cost)
    python -m analysis pieces results/cpu        (same as python -m analysis.pieces)
    python -m analysis conclusions results/cpu   (same as python -m analysis.conclusions)
    python -m analysis demo --teacher T --student S --out figures/

Each command is a module with its own ``main(argv)``; this file only picks it, so the
``python -m analysis.<module>`` forms keep working.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "attention": ("analysis.attention", "any model's heads on your sentence, offline HTML"),
    "tables": ("analysis.tables", "run results beside the paper's tables"),
    "cost": ("analysis.cost", "what a profile's runs cost"),
    "pieces": (
        "analysis.pieces",
        "what a profile's teachers, sets and general students came out as",
    ),
    "conclusions": (
        "analysis.conclusions",
        "which of the paper's conclusions hold, row by row and task by task",
    ),
    "demo": ("analysis.demo", "every figure for a teacher/student pair"),
}


def usage() -> str:
    lines = ["usage: python -m analysis COMMAND [options]   (COMMAND --help for its options)"]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return
    command, *rest = argv
    if command not in COMMANDS:
        print(f"python -m analysis: unknown command {command!r}\n{usage()}", file=sys.stderr)
        raise SystemExit(2)
    module = importlib.import_module(COMMANDS[command][0])
    sys.argv = [f"python -m analysis {command}", *rest]
    module.main(rest)


if __name__ == "__main__":
    main()
