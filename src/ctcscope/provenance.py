"""What a run used: versions, parameters and input checksums (written to ``run.json``)."""
from __future__ import annotations

import datetime as _dt
import hashlib
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

PACKAGES = ("ctcscope", "numpy", "scipy", "pandas", "anndata", "pysam", "numba", "scikit-learn", "ruptures",
            "fastcluster", "matplotlib", "plotly", "flowkit", "flowio", "jinja2", "typer", "dask", "distributed")


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_record(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    return {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)}


def run_record(command: str, parameters: dict[str, Any], inputs: Iterable[str | Path] = (),
               checksums: dict[str, str] | None = None) -> dict[str, Any]:
    """The provenance block stored in ``run.json`` and ``adata.uns['ctcscope']``.

    ``checksums`` may carry digests already computed elsewhere (e.g. in the per-sample
    workers, so large BAMs are read once); other ``inputs`` are hashed here.
    """
    files = []
    known = checksums or {}
    for p in inputs:
        p = Path(p)
        if str(p) in known:
            files.append({"path": str(p), "bytes": p.stat().st_size, "sha256": known[str(p)]})
        elif p.exists():
            files.append(file_record(p))
    return {
        "tool": "ctcscope",
        "command": command,
        "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "parameters": parameters,
        "inputs": files,
        "research_use_only": True,
    }
