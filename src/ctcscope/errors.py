"""One exception type for every problem a user can fix.

The command line prints ``str(error)`` as a single sentence and exits with status 2; no
traceback is shown for these.  Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations


class CtcscopeError(Exception):
    """A problem with the user's input or environment, explained in one sentence.

    The message must say what is wrong and how to fix it, e.g.
    ``"sample sheet samples.csv has no 'bam' column; add it (path to each cell's BAM)"``.
    """


class InputError(CtcscopeError):
    """Malformed or inconsistent input (sheet, BAM, FASTA, gating file, mutation name...)."""


class GenomeMismatchError(InputError):
    """A BAM or table whose contigs do not fit the chosen genome build."""


class OutputError(CtcscopeError):
    """The output location cannot be written safely (exists and is not ours, not writable...)."""
