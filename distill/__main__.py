"""Entry point: ``python -m distill <command> ...``.

``experiments`` runs the paper's tables (:mod:`distill.runner`, which builds on the
commands); every other command is one stage (:mod:`distill.cli`).
"""

import sys

from distill.errors import report_user_errors

argv = sys.argv[1:]
if argv[:1] == ["experiments"]:
    from distill.runner import main

    report_user_errors(lambda: sys.exit(main(argv[1:])))
else:
    from distill.cli import main

    main(argv)
