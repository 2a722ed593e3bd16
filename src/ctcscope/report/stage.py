"""The report as a pipeline step: build ``report.html`` and record the step in ``run.json``.

``ctcscope run`` and ``ctcscope demo`` end with :func:`report_step`; ``ctcscope report DIR``
calls it on an existing folder.
"""
from __future__ import annotations

import json
from pathlib import Path

from .._atomic import write_json
from ..provenance import run_record
from .build import build_report


def report_step(out_dir: str | Path, *, max_profiles: int = 300, max_display_bins: int = 3000,
                static_fallback: bool = True, output: str | Path | None = None, record: bool = True,
                write_tables: bool = True) -> Path:
    """Write ``out_dir/report.html`` (and ``out_dir/report_tables/``, and the Fig. 2-style
    profile grids ``figures/profiles_<patient>.png`` and ``figures/profiles.pdf``,
    :mod:`.profile_grid`) and return the page's path.

    With ``record`` the step's provenance block goes to ``run.json`` ``steps["report"]``
    (replacing an earlier one; other steps' blocks are kept as they are) when the folder
    has a ``run.json``; none is created (a folder without it is an unfinished run).
    ``write_tables=False`` leaves ``report_tables/`` and the grids out (the folder is not written to).  In ``ctcscope
    run``/``demo`` call it after ``run.json`` is written, so the page shows every step.
    """
    params = {"max_profiles": max_profiles, "max_display_bins": max_display_bins,
              "static_fallback": static_fallback}
    grids = []
    if write_tables:  # the folder may be written to: the Fig. 2-style grids go to figures/ first
        from .collect import collect_outputs
        from .profile_grid import write_profile_grids

        grids = write_profile_grids(collect_outputs(out_dir), Path(out_dir) / "figures")
    path = build_report(out_dir, output=output, max_profiles=max_profiles, max_display_bins=max_display_bins,
                        static_fallback=static_fallback, write_tables=write_tables)
    # only an existing run.json gets the block: a folder without one is an unfinished run and must stay so
    if record and (Path(out_dir) / "run.json").is_file():
        _record(Path(out_dir) / "run.json", dict(run_record("ctcscope report", params), step="report",
                                                 outputs=[str(path.name)] + [f"figures/{p.name}" for p in grids]))
    return path


def _record(run_json: Path, block: dict) -> None:
    """Put the report's block under ``steps["report"]`` (``docs/data-model.md``)."""
    run: dict = {"tool": "ctcscope", "steps": {}}
    if run_json.is_file():
        try:
            loaded = json.loads(run_json.read_text(encoding="utf-8"))
        except ValueError:
            return  # the report has already refused a malformed run.json; never overwrite it
        if not isinstance(loaded, dict):
            return
        run = loaded
    steps = run.get("steps")
    if steps is None:
        steps = {}
    if isinstance(steps, list):  # an older list layout: keep it, replace an earlier report block
        run["steps"] = [s for s in steps if not (isinstance(s, dict) and s.get("step") == "report")] + [block]
    elif isinstance(steps, dict):
        steps["report"] = block
        run["steps"] = steps
    else:
        return  # an unknown layout: leave the user's file alone
    write_json(run_json, run)
