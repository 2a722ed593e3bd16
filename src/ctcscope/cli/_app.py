"""The shared typer application and the error wrapper every command uses."""
from __future__ import annotations

import functools
import sys
from typing import Callable

import typer
from rich.console import Console

from .. import __version__

app = typer.Typer(
    name="ctcscope",
    help="Single circulating-tumour-cell copy number, ploidy, drivers and ALK-inhibitor resistance. "
    "For research use only.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=False)
console_err = Console(stderr=True)


def friendly(func: Callable) -> Callable:
    """Turn a :class:`CtcscopeError` into one red sentence and exit status 2."""
    from ..errors import CtcscopeError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CtcscopeError as e:
            console_err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            sys.exit(2)
        except KeyboardInterrupt:
            console_err.print("[bold red]interrupted:[/] no complete-looking output was left behind")
            sys.exit(130)

    return wrapper


def version_callback(value: bool):
    if value:
        console.print(f"ctcscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                 help="Print the version and exit."),
):
    """ctcscope: from sorted single cells to an evidence-backed reading of ALK-TKI resistance."""
