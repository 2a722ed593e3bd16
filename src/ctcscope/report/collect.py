"""Read whatever a ctcscope output folder holds, for the report.

Every step of the pipeline is optional except that *something* must be there: a folder
with only ``cells.tsv`` still gives a report, a folder with ``resistance.json`` only gives
a report with just the resistance pages.  Files are read as the data contract
(``docs/data-model.md``) describes them; a file that is present but unreadable is refused
with one sentence naming the file, never skipped silently.

The copy-number layers of ``cohort.h5ad`` are *not* loaded here: for a 10,000-cell run
they are hundreds of megabytes.  :class:`CohortStore` reads the rows the report needs
straight from the HDF5 file.  Segments are not read either: the profiles are drawn from
the ``segment`` and ``cn`` layers, and ``segments.seg`` is pointed to for IGV.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

#: Files of the output folder the report knows, in contract order (``docs/data-model.md``).
KNOWN_FILES = (
    "run.json", "cohort.h5ad", "cells.tsv", "segments.seg", "clusters.tsv", "diversity.tsv",
    "diversity_test.json", "altered_regions.tsv", "genes.tsv", "drivers.tsv", "pathways.tsv",
    "driver_frequencies.tsv", "driver_frequencies_by_group.tsv", "driver_groups.tsv", "driver_groups_summary.tsv", "phenotypes.tsv", "phenotype_summary.tsv", "gates.tsv",
    "resistance.json", "resistance.tsv",
)

#: Sample types whose profiles are expected to be flat (normal controls).
NORMAL_TYPES = ("wbc", "germline", "normal")
#: Sample types that are tumour samples.
TUMOUR_TYPES = ("ctc", "ctc_pool", "biopsy")


@dataclass
class CohortStore:
    """Row-wise access to the layers of ``cohort.h5ad`` without loading them whole."""

    path: Path
    obs_names: pd.Index
    var: pd.DataFrame
    layers: tuple[str, ...]

    def rows(self, layer: str, idx: np.ndarray) -> np.ndarray:
        """``layer[idx, :]`` as float32 (idx: integer row positions, any order)."""
        import h5py

        idx = np.asarray(idx, dtype=np.int64)
        if layer not in self.layers or len(idx) == 0:
            return np.full((len(idx), len(self.var)), np.nan, dtype=np.float32)
        order = np.argsort(idx, kind="stable")
        with h5py.File(self.path, "r") as f:
            node = f["layers"][layer]
            if isinstance(node, h5py.Dataset):
                uniq, inv = np.unique(idx[order], return_inverse=True)
                block = node[uniq, :].astype(np.float32)[inv]
            else:  # sparse (csr) layer: rare for copy number, read it via anndata
                from anndata.io import read_elem

                block = np.asarray(read_elem(node)[idx[order]].todense(), dtype=np.float32)
        out = np.empty_like(block)
        out[order] = block
        return out


@dataclass
class RunOutputs:
    """What one output folder holds (``None`` where a step did not run)."""

    out_dir: Path
    run: dict | None = None
    obs: pd.DataFrame | None = None          # one row per sample, index sample_id
    store: CohortStore | None = None
    ploidy_grid: np.ndarray | None = None
    ploidy_posterior: np.ndarray | None = None  # aligned with obs rows
    genome: dict = field(default_factory=dict)  # build, bin_size, source
    uns_provenance: dict | None = None
    clusters: pd.DataFrame | None = None
    diversity: pd.DataFrame | None = None
    diversity_test: dict | None = None
    altered_regions: pd.DataFrame | None = None
    driver_frequencies: pd.DataFrame | None = None   # as the drivers step computed them
    driver_frequencies_by_group: pd.DataFrame | None = None
    driver_groups: pd.DataFrame | None = None
    driver_groups_summary: pd.DataFrame | None = None
    drivers: pd.DataFrame | None = None
    pathways: pd.DataFrame | None = None
    phenotypes: pd.DataFrame | None = None          # sequenced samples linked to sorted wells
    phenotype_summary: pd.DataFrame | None = None   # counts per patient, file and level (Fig. 1c)
    gates: pd.DataFrame | None = None
    resistance: dict | None = None
    resistance_table: pd.DataFrame | None = None
    figures: dict[str, Path] = field(default_factory=dict)  # stem -> file (png preferred)
    files: list[str] = field(default_factory=list)          # known files present

    @property
    def n_samples(self) -> int:
        return 0 if self.obs is None else len(self.obs)

    def has(self, name: str) -> bool:
        return name in self.files


def _read_table(path: Path, what: str, required: tuple[str, ...] = ()) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, sep="\t", dtype={"sample_id": str, "patient": str, "chrom": str},
                         keep_default_na=True, na_values=["NA"], low_memory=False)
    except Exception as e:  # pandas raises many kinds; the user needs the file name
        raise InputError(f"{path.name} in {path.parent} cannot be read as a tab-separated table ({e}); "
                         f"re-run the {what} step to rewrite it") from e
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{path.name} in {path.parent} lacks the column(s) {', '.join(missing)}; "
                         f"re-run the {what} step to rewrite it")
    return df


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{path.name} in {path.parent} is not valid JSON ({e}); "
                         f"re-run the {what} step to rewrite it") from e


def _read_h5ad(path: Path, res: RunOutputs) -> None:
    import h5py
    from anndata.io import read_elem

    try:
        with h5py.File(path, "r") as f:
            obs = read_elem(f["obs"])
            var = read_elem(f["var"])
            layers = tuple(f["layers"].keys()) if "layers" in f else ()
            uns = f["uns"] if "uns" in f else {}
            if "ploidy_grid" in uns:
                res.ploidy_grid = np.asarray(read_elem(uns["ploidy_grid"]), dtype=float)
            if "ctcscope" in uns:
                res.uns_provenance = _plain(read_elem(uns["ctcscope"]))
            if "obsm" in f and "ploidy_posterior" in f["obsm"]:
                res.ploidy_posterior = np.asarray(read_elem(f["obsm"]["ploidy_posterior"]), dtype=float)
    except (OSError, KeyError) as e:
        raise InputError(f"{path.name} in {path.parent} is not a readable AnnData file ({e}); "
                         "re-run the copy-number step to rewrite it") from e
    obs.index = obs.index.astype(str)
    obs.index.name = "sample_id"
    res.obs = obs
    res.store = CohortStore(path=path, obs_names=obs.index, var=var, layers=layers)
    prov = res.uns_provenance
    if isinstance(prov, str):  # stored as JSON text (h5ad cannot hold None values)
        try:
            prov = json.loads(prov)
        except ValueError:
            prov = {}
    prov = res.uns_provenance = prov if isinstance(prov, dict) else {}
    params = prov.get("parameters") if isinstance(prov.get("parameters"), dict) else {}
    gen = prov.get("genome") or params.get("genome") or {}
    if isinstance(gen, dict):
        res.genome.update({k: gen[k] for k in ("build", "bin_size", "source") if k in gen})


def _plain(x: Any) -> Any:
    """numpy/pandas leaves of an ``uns`` dict → plain Python (for JSON and templates)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_plain(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, pd.DataFrame):
        return x.to_dict(orient="records")
    return x


def collect_outputs(out_dir: str | Path) -> RunOutputs:
    """Read every known file of ``out_dir`` into a :class:`RunOutputs`.

    Raises :class:`InputError` when the folder does not exist or holds none of the files a
    ctcscope run writes.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(f"{out} is not a folder; give the output folder of a ctcscope run (the --out of run/demo)")
    res = RunOutputs(out_dir=out)
    res.files = [n for n in KNOWN_FILES if (out / n).is_file()]
    if not res.files:
        raise InputError(f"{out} holds none of the files a ctcscope run writes (cohort.h5ad, cells.tsv, "
                         "resistance.json, ...); give the output folder of `ctcscope run` or `ctcscope demo`")

    if res.has("run.json"):
        run = _read_json(out / "run.json", "copy-number")
        res.run = run if isinstance(run, dict) else {"steps": run}
    if res.has("cohort.h5ad"):
        _read_h5ad(out / "cohort.h5ad", res)
    if res.has("cells.tsv"):
        cells = _read_table(out / "cells.tsv", "copy-number", ("sample_id",))
        cells["sample_id"] = cells["sample_id"].astype(str)
        cells = cells.set_index("sample_id")
        if res.obs is None:
            res.obs = cells
        else:  # cells.tsv may carry columns added after the h5ad was written
            extra = [c for c in cells.columns if c not in res.obs.columns]
            if extra:
                res.obs = res.obs.join(cells[extra], how="left")
    for name, attr, what, req in (
        ("clusters.tsv", "clusters", "cohort", ("sample_id",)),
        ("diversity.tsv", "diversity", "cohort", ()),
        ("altered_regions.tsv", "altered_regions", "cohort", ()),
        ("driver_frequencies.tsv", "driver_frequencies", "drivers", ("gene",)),
        ("driver_frequencies_by_group.tsv", "driver_frequencies_by_group", "drivers", ("group", "gene")),
        ("driver_groups.tsv", "driver_groups", "drivers", ("gene", "category")),
        ("driver_groups_summary.tsv", "driver_groups_summary", "drivers", ("category",)),
        ("drivers.tsv", "drivers", "drivers", ("sample_id", "gene", "state")),
        ("pathways.tsv", "pathways", "drivers", ()),
        ("phenotypes.tsv", "phenotypes", "phenotype", ("phenotype",)),
        ("phenotype_summary.tsv", "phenotype_summary", "phenotype", ("patient", "level", "phenotype", "count")),
        ("gates.tsv", "gates", "phenotype", ()),
        ("resistance.tsv", "resistance_table", "resistance", ()),
    ):
        if res.has(name):
            setattr(res, attr, _read_table(out / name, what, req))
    if res.has("diversity_test.json"):
        t = _read_json(out / "diversity_test.json", "cohort")
        res.diversity_test = t if isinstance(t, dict) else {"test": t}
    if res.has("resistance.json"):
        r = _read_json(out / "resistance.json", "resistance")
        res.resistance = r if isinstance(r, dict) else {"patients": r}
    res.obs = _normalise_obs(res.obs)
    res.figures = _find_figures(out / "figures")
    if not res.genome and res.run:
        res.genome.update(_genome_from_run(res.run))
    return res


def _normalise_obs(obs: pd.DataFrame | None) -> pd.DataFrame | None:
    """Give the columns the report leans on a defined type and default."""
    if obs is None:
        return None
    obs = obs.copy()
    obs.index = obs.index.astype(str)
    obs.index.name = "sample_id"
    # categorical columns (h5ad stores strings so) as plain values: the report fills and maps them
    for c in obs.columns:
        if isinstance(obs[c].dtype, pd.CategoricalDtype):
            obs[c] = obs[c].astype(object)
    defaults: dict[str, Any] = {"patient": "", "sample_type": "ctc", "phenotype": ""}
    for c, d in defaults.items():
        if c not in obs:
            obs[c] = d
        obs[c] = obs[c].astype(object).where(obs[c].notna(), d).astype(str)
    for c in ("qc_pass", "wgd", "normal_like"):
        if c in obs:
            obs[c] = obs[c].map(_to_bool)
    if "qc_reason" in obs:
        obs["qc_reason"] = obs["qc_reason"].astype(object).where(obs["qc_reason"].notna(), "").astype(str)
    return obs


def _to_bool(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return np.nan
    s = str(v).strip().lower()
    if s in ("true", "1", "yes", "t"):
        return True
    if s in ("false", "0", "no", "f"):
        return False
    return np.nan


def _find_figures(folder: Path) -> dict[str, Path]:
    """Figure files by stem, PNG preferred over SVG (smaller, and an <img> either way)."""
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in (".png", ".svg") or p.name.startswith("."):
            continue
        if p.stem not in found or p.suffix.lower() == ".png":
            found[p.stem] = p
    return found


def run_steps(run: dict | None) -> list[dict]:
    """The step blocks of ``run.json`` whatever its shape (``steps`` list, dict of blocks, one block)."""
    if not run:
        return []
    steps = run.get("steps")
    if isinstance(steps, list):
        return [s for s in steps if isinstance(s, dict)]
    if isinstance(steps, dict):
        return [dict(v, step=v.get("step", k)) for k, v in steps.items() if isinstance(v, dict)]
    if "command" in run or "versions" in run:
        return [run]
    return [dict(v, step=v.get("step", k)) for k, v in run.items() if isinstance(v, dict) and
            ("command" in v or "versions" in v)]


def copy_number_parameters(run: dict | None) -> dict:
    """The copy-number parameters a run was given (``run.json``: the copy-number step's
    ``parameters.copy_number``), ``{}`` when it used the defaults or did not record them."""
    for s in run_steps(run):
        par = s.get("parameters") or {}
        if isinstance(par, dict) and isinstance(par.get("copy_number"), dict):
            return dict(par["copy_number"])
    return {}


def _genome_from_run(run: dict) -> dict:
    for s in run_steps(run):
        g = s.get("genome") or (s.get("parameters") or {}).get("genome")
        if isinstance(g, dict):
            return {k: g[k] for k in ("build", "bin_size", "source") if k in g}
        if isinstance(g, str):
            return {"build": g}
    return {}


def is_simulated(res: RunOutputs) -> bool:
    """True when the run says its data are simulated (``run.json``, ``uns``, or ``obs``)."""
    def flag(d: Any) -> bool:
        return isinstance(d, dict) and (bool(d.get("simulated")) or
                                        str(d.get("command", "")).split(" ")[:2] in (["ctcscope", "demo"],
                                                                                    ["ctcscope", "simulate"])
                                        or str(d.get("command", "")) in ("demo", "simulate"))

    if res.run and (flag(res.run) or any(flag(s) for s in run_steps(res.run))):
        return True
    if flag(res.uns_provenance):
        return True
    if res.obs is not None and "simulated" in res.obs:
        if bool(pd.Series(res.obs["simulated"]).astype(object).map(_to_bool).fillna(False).any()):
            return True
    # the simulator names every sample SIM-...
    if res.obs is not None and len(res.obs) and pd.Index(res.obs.index).str.startswith("SIM-").all():
        return True
    if res.resistance and res.resistance.get("simulated"):
        return True
    return False
