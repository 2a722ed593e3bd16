"""Atomic output: a file appears complete under its final name, or not at all.

Every writer in ctcscope goes through :func:`atomic_path` (or the helpers built on it):
it yields a temporary path in the same directory, and renames it over the final name only
when the block finishes without error.  An interrupted run leaves ``.name.tmp-*`` files,
never a truncated ``name``.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import pandas as pd

from .errors import OutputError

#: Marker file that identifies a folder written by ctcscope (so we may overwrite it).
MARKER = ".ctcscope"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    # mkstemp makes the file private (0600); give it the user's usual permissions instead
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, obj, **kw) -> Path:
    kw.setdefault("indent", 2)
    kw.setdefault("default", _json_default)
    return write_text(path, json.dumps(obj, **kw) + "\n")


def write_tsv(path: str | os.PathLike, df: pd.DataFrame, index: bool = False, **kw) -> Path:
    kw.setdefault("sep", "\t")
    kw.setdefault("na_rep", "NA")
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=index, **kw)
    return Path(path)


def write_h5ad(path: str | os.PathLike, adata) -> Path:
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp, compression="gzip")
    return Path(path)


def _json_default(o):
    import numpy as np

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if np.isnan(o) else float(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def prepare_output_dir(out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Create ``out`` for a run, refusing to clobber a user's data.

    A new or empty folder is fine.  A folder written earlier by ctcscope (it holds the
    :data:`MARKER` file) is reused only with ``overwrite=True``.  Any other non-empty
    folder is refused: it may hold the user's own files.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} is a file, not a folder; choose a folder name with --out")
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise OutputError(
                f"output folder {out} already holds files that ctcscope did not write; "
                "choose a new or empty folder with --out"
            )
        if not overwrite:
            raise OutputError(
                f"output folder {out} holds an earlier ctcscope run; pass --overwrite to replace it "
                "or choose another folder with --out"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("written by ctcscope\n")
    except OSError as e:
        raise OutputError(f"cannot write to output folder {out} ({e.strerror}); choose a writable folder") from e
    return out


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (mtime_ns, size)}`` of every file under ``folder``."""
    out = {}
    for p in folder.rglob("*"):
        try:
            if p.is_file():
                st = p.stat()
                out[str(p.relative_to(folder))] = (st.st_mtime_ns, st.st_size)
        except OSError:
            pass
    return out


@contextlib.contextmanager
def guard_step(out: str | os.PathLike, *, fresh: bool | None = None) -> Iterator[Path]:
    """Run a step that writes into ``out`` so that a failure or Ctrl-C leaves nothing that
    looks complete.

    Each file is already written atomically; this guards the folder as a whole.  When the
    step fails: a folder that did not exist (or was empty) before the step is removed
    again; in an earlier run's folder whose files the step had begun to replace,
    ``run.json`` is removed (a folder without it is an unfinished run, see
    ``docs/data-model.md``).  A step that fails before writing anything changes nothing.
    """
    import shutil

    out = Path(out)
    if fresh is None:
        fresh = not out.exists() or (out.is_dir() and not any(out.iterdir()))
    before = {} if fresh or not out.is_dir() else _snapshot(out)
    try:
        yield out
    except BaseException:
        if fresh:
            shutil.rmtree(out, ignore_errors=True)
        elif out.is_dir():
            after = _snapshot(out)
            changed = [k for k, v in after.items() if before.get(k) != v and k != "run.json"]
            changed += [k for k in before if k not in after]
            if changed:
                (out / "run.json").unlink(missing_ok=True)
        raise
