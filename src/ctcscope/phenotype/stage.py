"""The phenotype step: FCS files + gating (+ sample sheet / plate map) → tables and figures.

:func:`run_phenotype_stage` gates every FCS file the same way, reads the index-sort
wells, links each sequenced cell (sample sheet ``fcs``/``plate``/``well``, or a plate
map) to its well, and writes into ``out_dir``:

- ``phenotypes.tsv``: one row per sequenced sample with a well: ``sample_id, patient,
  sample_type, file, plate, well, n_events, phenotype`` (after re-gating),
  ``phenotype_sheet`` (as given in the sheet, i.e. at sort time), ``in_gate``,
  ``phenotype_changed``, ``flag``, ``phenotype_fraction`` and the marker intensities
  (median over the well's events, compensated, data units);
- ``sorted_wells.tsv``: every sorted well of every file (linked or not);
- ``phenotype_summary.tsv``: counts and percentages per patient and file, at the levels
  ``events`` (all events of the file), ``sorted`` (wells) and ``sequenced`` (samples);
- ``gates.tsv`` (population statistics with each gate's rule) and ``gate_values.tsv``
  (fixed and derived gate values, with the rule and control size);
- ``figures/gating_<file>.png`` and ``figures/phenotypes.png``;
- ``phenotype.json``: what was run (gating, files, compensation, notes, figures).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import write_json, write_tsv
from ..errors import InputError
from .classify import LEUKOCYTE, event_table, phenotype_counts
from .dna_index import check_reference_value, well_dna_index
from .fcs import FcsFile, read_fcs
from .gating import OUTSIDE, Gating, apply_gating, gate_values_table, load_gating, study_gating
from .indexsort import join_samples, normalise_well, read_plate_map, sorted_wells

STEP = "phenotype"


def normalise_phenotype(p) -> str:
    """``'ALK+/CK−'`` (Unicode minus), ``'alk+ / ck-'`` → ``'ALK+/CK-'``; ``CD45+`` kept."""
    if p is None or (isinstance(p, float) and np.isnan(p)):
        return ""
    s = str(p).strip().replace("−", "-").replace("–", "-").replace(" ", "")
    return s.upper() if s.lower().startswith(("alk", "cd45")) else s


def read_sample_sheet(path: str | os.PathLike) -> pd.DataFrame:
    """A minimal CSV/TSV reader for the sheet columns this step uses (all kept as text)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"sample sheet {path} does not exist; check the path given to --samples")
    try:
        df = pd.read_csv(path, sep=None, engine="python", dtype=str).fillna("")
    except Exception as e:
        raise InputError(f"sample sheet {path.name} is not a readable CSV/TSV table ({e})") from None
    df.columns = [c.strip() for c in df.columns]
    if "sample_id" not in df.columns:
        raise InputError(f"sample sheet {path.name} has no 'sample_id' column; add one")
    return df


def _process_file(path: str, gating: Gating, compensation, controls, *, control_wells=(), dna_channel=None,
                  dna_reference=None) -> dict:
    fcs = read_fcs(path, compensation=compensation)
    res = apply_gating(fcs, gating, controls=controls)
    ev = event_table(res)
    dna = None
    try:
        wells = sorted_wells(fcs.metadata, res, file=fcs.name, n_events=fcs.n_events)
        wells.insert(1, "fcs_path", str(fcs.path))
        notes = list(fcs.notes)
    except InputError as e:
        if "no 'INDEX SORTING LOCATIONS'" not in str(e):
            raise
        wells = pd.DataFrame()
        notes = list(fcs.notes) + ["no index-sort keywords: events are gated but no well is linked"]
    if len(wells):
        # DNA index of every sorted well against the leukocytes' G1 peak of the same tube
        ctrl = wells["well"].isin(set(control_wells))
        ctrl_ev = np.array([int(e) for s in wells.loc[ctrl, "events"] for e in str(s).split(";") if e != ""],
                           dtype=np.int64)
        table, dna = well_dna_index(fcs, wells, reference_events=(res.phenotype.to_numpy() == LEUKOCYTE),
                                    control_events=ctrl_ev, reference_value=dna_reference, channel=dna_channel)
        for c in ("dna_index", "dna_index_sd", "dna_note"):
            wells[c] = table[c].to_numpy()
        notes += dna.notes
    return {"fcs": fcs, "result": res, "events": ev, "wells": wells, "notes": notes, "dna": dna}


@dataclass
class PhenotypeResult:
    """What the phenotype step found, before anything is written (see :func:`compute_phenotypes`)."""

    table: pd.DataFrame          # phenotypes.tsv: one row per sequenced sample linked to a well
    wells: pd.DataFrame          # every sorted well of every file
    summary: pd.DataFrame
    stats: pd.DataFrame
    values: pd.DataFrame
    per_file: list[dict]
    patient_of: dict[str, str]
    gating: Gating
    compensation: object
    plate_map: object
    files: list[str]
    notes: list[str] = field(default_factory=list)


def compute_phenotypes(samples, *, gating=None, plate_map=None, fcs=(), controls: dict | None = None,
                       compensation=None, base_dir: str | os.PathLike | None = None, dna_channel: str | None = None,
                       dna_reference: float | None = None, strict: bool = True) -> PhenotypeResult:
    """Gate every FCS file, read its index-sort wells and DNA index, link wells to samples.

    Parameters as :func:`run_phenotype_stage`; ``strict=False`` turns a sample whose well is
    not among the sorted ones into a note (the sample gets no phenotype) instead of an error.
    """
    gating = _as_gating(gating)
    sheet, base = _as_sheet(samples, base_dir)
    if plate_map is not None:
        sheet = _apply_plate_map(sheet, plate_map)
    files = [str(Path(f).resolve()) for f in fcs]
    if "fcs" in sheet.columns:
        sheet["fcs"] = [str((base / f).resolve()) if f and not Path(f).is_absolute() else (str(Path(f).resolve()) if f else "")
                        for f in sheet["fcs"].astype(str)]
        files += [f for f in sheet["fcs"] if f]
    files = list(dict.fromkeys(files))
    if not files:
        raise InputError("no FCS files to phenotype: give --fcs FILE or an 'fcs' column in the sample sheet")
    dna_reference = check_reference_value(dna_reference)
    comp = compensation if compensation is not None else ("none" if gating.compensation == "none" else "file")
    ctrl = {k: (v if isinstance(v, FcsFile) else read_fcs(v, compensation=comp)) for k, v in (controls or {}).items()}
    per_file = [_process_file(f, gating, comp, ctrl, control_wells=_control_wells(sheet, f), dna_channel=dna_channel,
                              dna_reference=dna_reference) for f in files]

    patient_of = _patients(sheet, per_file)
    wells = pd.concat([p["wells"] for p in per_file if len(p["wells"])], ignore_index=True) if any(
        len(p["wells"]) for p in per_file) else pd.DataFrame(columns=["file", "fcs_path", "plate", "well", "phenotype", "in_gate"])
    if len(wells):
        wells.insert(0, "patient", [patient_of[f] for f in wells["fcs_path"]])

    notes: list[str] = []
    table = _link(sheet, wells, files, strict=strict, notes=notes)
    events = pd.concat([p["events"].assign(patient=patient_of[str(p["fcs"].path)]) for p in per_file], ignore_index=True)
    counts = [phenotype_counts(events, level="events")]
    if len(wells):
        counts.append(phenotype_counts(wells, level="sorted"))
    if len(table):
        counts.append(phenotype_counts(table.assign(file=table["file"]), level="sequenced"))
    summary = pd.concat(counts, ignore_index=True)
    stats = pd.concat([p["result"].stats for p in per_file], ignore_index=True)
    values = pd.concat([gate_values_table(p["result"]) for p in per_file], ignore_index=True)
    return PhenotypeResult(table=table, wells=wells, summary=summary, stats=stats, values=values, per_file=per_file,
                           patient_of=patient_of, gating=gating, compensation=comp, plate_map=plate_map, files=files,
                           notes=notes)


def run_phenotype_stage(samples, out_dir: str | os.PathLike, *, gating=None, plate_map=None, fcs=(),
                        controls: dict | None = None, compensation=None, figures: bool = True,
                        base_dir: str | os.PathLike | None = None, dna_channel: str | None = None,
                        dna_reference: float | None = None) -> pd.DataFrame:
    """Run the phenotype step and write its files into ``out_dir`` (see module doc).

    Parameters
    ----------
    samples: sample sheet (DataFrame or path) with ``sample_id`` and, for sorted cells,
        ``fcs`` (sort file; relative paths are resolved against the sheet's folder or
        ``base_dir``), ``plate`` and ``well``; ``patient``, ``sample_type`` and
        ``phenotype`` (sort-time call) are used when present.  ``None`` when only FCS files
        (``fcs``) are phenotyped.
    out_dir: output folder (created if needed; files are written atomically).
    gating: gating definition (path to YAML / Gating-ML, dict, or :class:`Gating`);
        default: the study's strategy.
    plate_map: table (path or DataFrame) ``sample_id, well`` and ``plate`` and/or ``fcs``,
        used where the sheet has no well.
    fcs: extra FCS files to phenotype (paths).
    controls: control files for derived thresholds, ``{name: path}``.
    compensation: ``None`` (follow the gating file), ``"file"``, ``"none"`` or a matrix path.
    dna_channel: the DNA-content channel (default: found by dye name, see
        :func:`ctcscope.phenotype.dna_index.find_dna_channel`).
    dna_reference: 2n G1 intensity to use when a file has too few CD45+ events and no
        leukocyte control well.

    Returns
    -------
    The ``phenotypes.tsv`` table (one row per sample linked to a sorted well).
    """
    res = compute_phenotypes(samples, gating=gating, plate_map=plate_map, fcs=fcs, controls=controls,
                             compensation=compensation, base_dir=base_dir, dna_channel=dna_channel,
                             dna_reference=dna_reference)
    write_phenotypes(res, out_dir, figures=figures)
    return res.table


def write_phenotypes(res: PhenotypeResult, out_dir: str | os.PathLike, *, figures: bool = True) -> None:
    """Write the phenotype step's tables, figures and ``phenotype.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    gating, per_file, patient_of, table = res.gating, res.per_file, res.patient_of, res.table
    out_dir.mkdir(parents=True, exist_ok=True)
    write_tsv(out_dir / "phenotypes.tsv", table)
    write_tsv(out_dir / "sorted_wells.tsv", res.wells.drop(columns=["fcs_path"], errors="ignore"))
    write_tsv(out_dir / "phenotype_summary.tsv", res.summary)
    write_tsv(out_dir / "gates.tsv", res.stats)
    write_tsv(out_dir / "gate_values.tsv", res.values)
    figs = []
    if figures:
        from .plots import plot_gating, plot_phenotype_distribution

        fig_dir = out_dir / "figures"
        if gating.gatingml is None:
            for p in per_file:
                stem = _safe(Path(p["fcs"].name).stem)
                ev = p["wells"]["events"] if len(p["wells"]) else []
                srt = [int(e) for s in ev for e in str(s).split(";") if e != ""]
                f = plot_gating(p["result"], fig_dir / f"gating_{stem}.png", sorted_events=srt,
                                title=f"{p['fcs'].name} (patient {patient_of[str(p['fcs'].path)]}): gating "
                                      f"'{gating.name}'; ringed = index-sorted events")
                figs.append({"file": p["fcs"].name, "path": str(f.relative_to(out_dir)), "kind": "gating"})
        f = plot_phenotype_distribution(res.summary, fig_dir / "phenotypes.png")
        figs.append({"file": "", "path": str(f.relative_to(out_dir)), "kind": "phenotype_distribution"})
    from ..provenance import run_record

    comp, plate_map = res.compensation, res.plate_map
    write_json(out_dir / "phenotype.json", {
        "step": STEP,
        "gating": {"name": gating.name, "source": gating.source, "reference": gating.reference,
                   "description": gating.description},
        "files": [{"file": p["fcs"].name, "path": str(p["fcs"].path), "patient": patient_of[str(p["fcs"].path)],
                   "fcs_version": p["fcs"].version, "events": p["fcs"].n_events,
                   "compensation": p["fcs"].spill_source or "none", "sorted_wells": int(len(p["wells"])),
                   "dna_reference": p["dna"].as_dict() if p["dna"] is not None else None,
                   "notes": p["notes"]} for p in per_file],
        "samples_linked": int(len(table)),
        "samples_outside_gates": int((~table["in_gate"].astype(bool)).sum()) if len(table) else 0,
        "samples_with_dna_index": int(pd.to_numeric(table.get("dna_index", pd.Series(dtype=float)),
                                                    errors="coerce").notna().sum()) if len(table) else 0,
        "notes": res.notes,
        "figures": figs,
        "provenance": run_record(STEP, {"compensation": str(comp), "gating": gating.source or gating.name,
                                        "plate_map": str(plate_map) if isinstance(plate_map, (str, Path)) else None},
                                 inputs=res.files + ([gating.source] if gating.source and Path(gating.source).exists() else [])),
    })


def _control_wells(sheet: pd.DataFrame, path: str) -> list[str]:
    """Wells of the leukocyte control sample(s) sorted into ``path`` (sheet ``sample_type`` wbc)."""
    if not {"sample_type", "well"} <= set(sheet.columns):
        return []
    m = sheet["sample_type"].astype(str).str.lower().eq("wbc") & sheet["well"].astype(str).ne("")
    if "fcs" in sheet.columns:
        m &= sheet["fcs"].astype(str).isin(["", path])
    return [normalise_well(w) for w in sheet.loc[m, "well"]]


def _safe(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in s)


def _as_gating(gating) -> Gating:
    if gating is None:
        return study_gating()
    if isinstance(gating, Gating):
        return gating
    return load_gating(gating)


def _as_sheet(samples, base_dir) -> tuple[pd.DataFrame, Path]:
    if samples is None:
        return pd.DataFrame(columns=["sample_id"]), Path(base_dir or ".").resolve()
    if isinstance(samples, (str, Path)):
        return read_sample_sheet(samples), Path(base_dir or Path(samples).parent).resolve()
    if not isinstance(samples, pd.DataFrame):
        raise InputError("samples must be a sample sheet (path or table)")
    if "sample_id" not in samples.columns:
        if samples.index.name == "sample_id":
            samples = samples.reset_index()
        else:
            raise InputError("the sample sheet has no 'sample_id' column; add one")
    df = samples.copy()
    for c in ("fcs", "plate", "well", "patient", "sample_type", "phenotype"):
        if c in df.columns:
            df[c] = df[c].fillna("").astype(str)
    df["sample_id"] = df["sample_id"].astype(str)
    return df, Path(base_dir or ".").resolve()


def _apply_plate_map(sheet: pd.DataFrame, plate_map) -> pd.DataFrame:
    pm = plate_map if isinstance(plate_map, pd.DataFrame) else read_plate_map(plate_map)
    pm = pm.copy()
    pm.columns = [c.strip().lower() for c in pm.columns]
    if sheet.empty:
        return pm.astype(str)
    dup = pm["sample_id"].duplicated()
    if dup.any():
        raise InputError(f"plate map lists sample {pm.loc[dup, 'sample_id'].iloc[0]} twice; give each sample one well")
    unknown = set(pm["sample_id"]) - set(sheet["sample_id"])
    if unknown:
        raise InputError(f"plate map names sample(s) {', '.join(sorted(unknown)[:3])} that are not in the sample sheet; "
                         "fix the sample ids")
    out = sheet.copy()
    pm = pm.set_index("sample_id")
    for c in ("fcs", "plate", "well"):
        if c not in pm.columns:
            continue
        if c not in out.columns:
            out[c] = ""
        fill = out["sample_id"].map(pm[c]).fillna("")
        out[c] = np.where(out[c].astype(str) == "", fill, out[c])
    return out


def _patients(sheet: pd.DataFrame, per_file) -> dict[str, str]:
    out = {}
    for p in per_file:
        path = str(p["fcs"].path)
        pats = []
        if "fcs" in sheet.columns and "patient" in sheet.columns:
            pats = sorted({x for x in sheet.loc[sheet["fcs"] == path, "patient"] if x})
        out[path] = ",".join(pats) if pats else Path(path).stem
    return out


def _link(sheet: pd.DataFrame, wells: pd.DataFrame, files: list[str], *, strict: bool = True,
          notes: list | None = None) -> pd.DataFrame:
    cols_out = ["sample_id", "patient", "sample_type", "file", "plate", "well", "n_events", "phenotype",
                "phenotype_sheet", "in_gate", "phenotype_changed", "flag", "phenotype_fraction",
                "dna_index", "dna_index_sd", "dna_note"]
    notes = [] if notes is None else notes
    if "well" not in sheet.columns or not (sheet["well"].astype(str) != "").any():
        return pd.DataFrame(columns=cols_out)
    s = sheet[sheet["well"].astype(str) != ""].copy()
    if "fcs" not in s.columns:
        s["fcs"] = ""
    if (s["fcs"] == "").any():
        if len(files) == 1:
            s.loc[s["fcs"] == "", "fcs"] = files[0]
        elif "plate" in s.columns and (s.loc[s["fcs"] == "", "plate"] != "").all() and len(wells):
            by_plate = wells.drop_duplicates("plate").set_index("plate")["fcs_path"]
            miss = s.loc[s["fcs"] == "", "plate"]
            bad = sorted(set(miss) - set(by_plate.index))
            if bad:
                raise InputError(f"no loaded sort has plate barcode {bad[0]}; give the sample's 'fcs' or fix its 'plate'")
            s.loc[s["fcs"] == "", "fcs"] = miss.map(by_plate)
        else:
            r = s[s["fcs"] == ""].iloc[0]
            raise InputError(f"sample {r['sample_id']} has well {r['well']} but no 'fcs' (or plate barcode) saying which sort it is from; "
                             "fill the sheet's 'fcs' column")
    if not len(wells):
        raise InputError("the sample sheet links samples to wells, but none of the FCS files has index-sort keywords; "
                         "export the sorts with their index-sort locations")
    sorted_files = set(wells["fcs_path"])
    nosort = s[~s["fcs"].isin(sorted_files)]
    if len(nosort):
        r = nosort.iloc[0]
        msg = (f"sample {r['sample_id']} points to {Path(r['fcs']).name}, which has no index-sort keywords; "
               "give the index-sort export of that plate")
        if strict:
            raise InputError(msg)
        notes.append(msg + f" ({len(nosort)} sample(s) left without phenotype)")
        s = s[s["fcs"].isin(sorted_files)]
    sheet_pheno = s["phenotype"].map(normalise_phenotype) if "phenotype" in s.columns else pd.Series("", index=s.index)
    s = s.drop(columns=["phenotype"], errors="ignore").assign(phenotype_sheet=sheet_pheno.to_numpy())
    s = s.drop(columns=["plate"], errors="ignore")
    linked = join_samples(wells, s, strict=strict)
    if not strict and "file" in linked.columns:
        lost = linked["file"].isna()
        if lost.any():
            ids = linked.loc[lost, "sample_id"].astype(str).tolist()
            notes.append(f"{len(ids)} sample(s) name a well with no sorted event in their sort "
                         f"({', '.join(ids[:5])}{' …' if len(ids) > 5 else ''}); check the sheet's plate/well against "
                         "the sort — they get no phenotype or DNA index")
            linked = linked[~lost].reset_index(drop=True)
    linked["in_gate"] = linked["phenotype"] != OUTSIDE
    st = linked["sample_type"] if "sample_type" in linked.columns else pd.Series("", index=linked.index)
    linked["phenotype_changed"] = (linked["phenotype_sheet"] != "") & (linked["phenotype_sheet"] != linked["phenotype"])
    flags = []
    for r, t in zip(linked.itertuples(index=False), st):
        if not r.in_gate:
            flags.append("outside the current gates (discard as in the study's refined gating)")
        elif t == "wbc" and r.phenotype != "CD45+":
            flags.append(f"leukocyte control gated as {r.phenotype}")
        elif r.phenotype_changed:
            flags.append(f"sheet says {r.phenotype_sheet}, gates say {r.phenotype}")
        else:
            flags.append("")
    linked["flag"] = flags
    if "patient" not in linked.columns or (linked["patient"] == "").all():
        linked["patient"] = linked.get("patient_sort", "")
    for c in cols_out:
        if c not in linked.columns:
            linked[c] = ""
    rest = [c for c in linked.columns if c not in cols_out and c not in ("fcs", "fcs_path", "events", "row", "col")
            and not c.endswith("_sort")]
    return linked[cols_out + rest]


def annotate_obs(obs: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``obs`` (index ``sample_id``) with the phenotype step's results; returns a copy.

    For samples linked to a sorted well, ``phenotype`` becomes the re-gated phenotype; the
    sheet's value is kept in ``phenotype_sheet``.  ``phenotype_in_gate`` is False for
    sequenced cells outside the current gates (the study discarded them) and True for
    everything else; ``phenotype_flag`` carries the step's ``flag`` text.
    """
    out = obs.copy()
    t = table.set_index("sample_id") if "sample_id" in table.columns else table
    ids = out.index.intersection(t.index)
    if "phenotype" not in out.columns:
        out["phenotype"] = ""
    out["phenotype_sheet"] = out["phenotype"].fillna("").astype(str)
    out["phenotype"] = out["phenotype_sheet"]
    out.loc[ids, "phenotype"] = t.loc[ids, "phenotype"].astype(str).to_numpy()
    out["phenotype_in_gate"] = True
    out.loc[ids, "phenotype_in_gate"] = t.loc[ids, "in_gate"].astype(bool).to_numpy()
    out["phenotype_flag"] = ""
    out.loc[ids, "phenotype_flag"] = t.loc[ids, "flag"].fillna("").astype(str).to_numpy()
    return out
