"""The ``ctcscope`` command line: a thin layer over the library, one sub-command per step.

Each sub-command lives in its own module in this package and registers itself on
:data:`app`.  Errors a user can fix (:class:`ctcscope.errors.CtcscopeError`) are printed as
one sentence, with exit status 2, and no traceback.
"""
from __future__ import annotations

import sys

from ._app import app, console_err

# Sub-commands: importing a module registers its command on ``app``.
from . import run  # noqa: F401,E402  (run, count)
from . import demo  # noqa: F401,E402
from . import cluster  # noqa: F401,E402
from . import drivers  # noqa: F401,E402
from . import phenotype  # noqa: F401,E402
from . import resist  # noqa: F401,E402
from . import report  # noqa: F401,E402
from . import simulate  # noqa: F401,E402
from . import info  # noqa: F401,E402  (genomes)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from ..errors import CtcscopeError

    try:
        app(args=argv, standalone_mode=True)
    except CtcscopeError as e:  # raised outside typer's own handling (rare)
        console_err.print(f"[bold red]error:[/] {e}", highlight=False)
        sys.exit(2)


__all__ = ["app", "main"]
