"""The shared typer application and the error wrapper every command uses."""
from __future__ import annotations

import errno
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


#: OS errors that are the user's to fix (permissions, a full or read-only disk, a path of the wrong kind).
_USER_OS_ERRORS = {errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EISDIR, errno.ENOTDIR,
                   errno.ENAMETOOLONG}


def os_error_sentence(e: OSError) -> str:
    """One sentence for an operating-system error a user can fix."""
    where = e.filename or "a file"
    if e.errno in (errno.EACCES, errno.EPERM):
        return (f"permission denied for {where}; choose an output folder you can write to "
                "(and input files you can read)")
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left for {where}; free some disk space or choose another output folder"
    if e.errno == errno.EROFS:
        return f"{where} is on a read-only file system; choose another output folder"
    return f"cannot use {where} ({e.strerror}); check the path"


def friendly(func: Callable) -> Callable:
    """Turn a :class:`CtcscopeError` (or an OS error a user can fix: permissions, a full
    disk) into one red sentence and exit status 2; Ctrl-C into one line and status 130."""
    from ..errors import CtcscopeError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CtcscopeError as e:
            console_err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            sys.exit(2)
        except OSError as e:
            if e.errno not in _USER_OS_ERRORS:
                raise
            console_err.print(f"[bold red]error:[/] {os_error_sentence(e)}", highlight=False, soft_wrap=True)
            sys.exit(2)
        except KeyboardInterrupt:
            console_err.print("[bold red]interrupted:[/] stopped; files are written whole or not at all, and a "
                              "folder without run.json is an unfinished run", highlight=False, soft_wrap=True)
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
