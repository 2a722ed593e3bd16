"""The resistance step of a ctcscope run: read inputs, interpret, write resistance.json/.tsv."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from .._atomic import write_json, write_tsv
from ..errors import InputError
from ..provenance import run_record
from .engine import interpret
from .knowledge import load_knowledge_base
from .patients import Patient, read_patients
from .render import readings_to_json, readings_to_table


def _table(x, name: str) -> pd.DataFrame | None:
    if x is None:
        return None
    if isinstance(x, pd.DataFrame):
        return x
    p = Path(x)
    if not p.exists():
        raise InputError(f"{name} table {p} does not exist; run the step that writes it or leave it out")
    if p.is_dir():
        raise InputError(f"{name} table {p} is a folder; give the {name}.tsv file of a ctcscope run")
    try:
        t = pd.read_csv(p, sep="\t", dtype={"sample_id": str, "patient": str}, keep_default_na=False,
                        na_values=["NA", "NaN", "nan"])
    except pd.errors.EmptyDataError:
        raise InputError(f"{name} table {p.name} is empty; give the {name}.tsv file of a ctcscope run") from None
    except (UnicodeDecodeError, pd.errors.ParserError):
        raise InputError(f"{name} table {p.name} is not a tab-separated text table; give the {name}.tsv file "
                         "of a ctcscope run") from None
    if "sample_id" not in t.columns:
        raise InputError(f"{name} table {p.name} has no 'sample_id' column (is it tab-separated?); give the "
                         f"{name}.tsv file of a ctcscope run")
    return t


def run_resistance_stage(patients, out_dir, *, drivers=None, cells=None, genes=None, min_confidence: str = "low",
                         knowledge_base=None, oncokb_token: str | None = None) -> dict:
    """Interpret every patient and write ``resistance.json`` and ``resistance.tsv`` atomically.

    ``patients``: a patient-sheet path or a list of :class:`Patient`; ``drivers``/``genes``/
    ``cells``: DataFrames or paths to ``drivers.tsv``/``genes.tsv``/``cells.tsv`` (optional).
    ``oncokb_token``: when given, each ALK variant is also annotated through OncoKB with the
    user's own token (network access; off by default).

    Returns ``{"json": path, "tsv": path, "patients": n, "readings": [...], "document": dict,
    "run": provenance block for run.json}``.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    inputs = []
    if isinstance(patients, (str, Path)):
        inputs.append(str(patients))
        pts = read_patients(patients)
    else:
        pts = list(patients)
        if not all(isinstance(p, Patient) for p in pts):
            raise InputError("patients must be a patient-sheet path or a list of Patient objects")
    for x in (drivers, cells, genes):
        if isinstance(x, (str, Path)):
            inputs.append(str(x))
    kb = load_knowledge_base(knowledge_base)
    tables = {k: _table(x, k) for k, x in (("drivers", drivers), ("cells", cells), ("genes", genes))}
    readings = interpret(pts, drivers=tables["drivers"], cells=tables["cells"], genes=tables["genes"], kb=kb,
                         min_confidence=min_confidence)
    run = run_record("resistance", {"min_confidence": min_confidence, "knowledge_base_version": kb.version,
                                    "oncokb": bool(oncokb_token)}, inputs)
    # inputs inside the output folder by their name there, so the document does not depend on where the folder is
    for f in run["inputs"]:
        try:
            f["path"] = Path(f["path"]).resolve().relative_to(out.resolve()).as_posix()
        except ValueError:
            pass
    # the document stays byte-identical for identical inputs: no clock in it
    doc = readings_to_json(readings, kb, {k: v for k, v in run.items() if k != "started"})
    if oncokb_token:
        from .oncokb import annotate_variants

        variants = sorted({m["canonical"] for p in doc["patients"] for m in p["alk_mutations"]})
        doc["oncokb"] = annotate_variants(variants, token=oncokb_token)
    out.mkdir(parents=True, exist_ok=True)  # only now: bad input above leaves nothing behind
    jpath = write_json(out / "resistance.json", doc)
    tpath = write_tsv(out / "resistance.tsv", readings_to_table(readings))
    run["seconds"] = round(time.perf_counter() - t0, 3)
    return {"json": jpath, "tsv": tpath, "patients": len(readings), "readings": readings, "document": doc, "run": run}
