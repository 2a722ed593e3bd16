"""Build ``report.html``: collect the folder → a model of sections → one self-contained page.

>>> from ctcscope.report import build_report
>>> build_report("ctcscope-demo")            # doctest: +SKIP
PosixPath('ctcscope-demo/report.html')

The page holds everything inline: styles, plotly.js's cartesian bundle (shipped in
``static/``), the report's own script, the data (``<script type="application/json">`` blocks
with ``<``, ``>`` and ``&`` escaped) and the images (``data:`` URIs).  A Content Security
Policy in the page allows exactly those two scripts (by SHA-256) and no network access of
any kind, so the browser itself enforces "no script not written by ctcscope" and "no
network request".  Every user-provided string reaches the page through jinja2's
autoescape or the escaped JSON; the script writes them with ``textContent`` only.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..drivers.summaries import most_altered_genes
from .._atomic import atomic_path, write_tsv
from ..errors import OutputError
from . import figures as F
from . import patient_split as PS
from . import summaries as S
from .collect import RunOutputs, collect_outputs, is_simulated, run_steps
from .profiles import cohort_matrix, profile_payload
from .resistance_view import TKI_ORDER, flat_tables, patient_views

#: Sections in navigation order: (id, title).
SECTIONS = [
    ("summary", "Run summary"), ("qc", "Quality control"), ("phenotypes", "Phenotypes"),
    ("profiles", "Copy-number profiles"), ("ploidy", "Ploidy and instability"), ("clustering", "Clustering"),
    ("drivers", "Drivers and pathways"), ("resistance", "Resistance per patient"),
    ("methods", "Methods and provenance"),
]
#: Clustered samples above which the hoverable clustering heatmap is left out (the PNG stays).
COHORT_HEATMAP_MAX = 600
#: Samples above which the driver heatmap is not drawn interactively (the drivers step's PNG is).
DRIVER_HEATMAP_MAX = 600
#: Folder (inside the output folder) for the tables the report derives.
TABLES_DIR = "report_tables"
#: plotly's own default height (px), given to figures that set none so the page can reserve it.
DEFAULT_FIGURE_HEIGHT = 450
#: Height of the profile viewer's plot (report.js draws it at this height).
PROFILE_HEIGHT = 430
RESEARCH_USE = ("For research use only. Not for diagnostic use and not a treatment recommendation: "
                "every reading here must be reviewed by a qualified molecular tumour board together "
                "with the patient's full clinical record.")
CITATIONS = [
    "Oulhen M, Pawlikowska P, Tayoun T, et al. Circulating tumor cell copy-number heterogeneity in "
    "ALK-rearranged non-small-cell lung cancer resistant to ALK inhibitors. npj Precis Oncol. 2021;5:71. "
    "doi:10.1038/s41698-021-00203-1",
    "Pan Y, Deng C, Qiu Z, Cao C, Wu F. The resistance mechanisms and treatment strategies for ALK-rearranged "
    "non-small cell lung cancer. Front Oncol. 2021;11:713530. doi:10.3389/fonc.2021.713530",
    "Tabbò F, Reale ML, Bironzo P, Scagliotti GV. Resistance to anaplastic lymphoma kinase inhibitors: knowing "
    "the enemy is half the battle won. Transl Lung Cancer Res. 2020;9(6):2545-2556. doi:10.21037/tlcr-20-372",
    "Redaelli S, Ceccon M, Zappa M, et al. Lorlatinib treatment elicits multiple on- and off-target mechanisms "
    "of resistance in ALK-driven cancer. Cancer Res. 2018;78(24):6866-6880. doi:10.1158/0008-5472.CAN-18-1867",
    "Sasaki T, Okuda K, Zheng W, et al. The neuroblastoma-associated F1174L ALK mutation causes resistance to an "
    "ALK kinase inhibitor in ALK-translocated cancers. Cancer Res. 2010;70(24):10038-10043. "
    "doi:10.1158/0008-5472.CAN-10-2956",
]


# ------------------------------------------------------------------ safe embedding

def safe_json(obj: Any) -> str:
    """JSON for a ``<script type="application/json">`` block: ``<``, ``>``, ``&`` and the
    two JavaScript line separators are escaped, so no string can close the element."""
    text = json.dumps(_clean(obj), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _clean(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, (float, np.floating)):
        f = float(o)
        return f if math.isfinite(f) else None
    if o is None or isinstance(o, (str, int, bool)):
        return o
    if o is pd.NA or o is pd.NaT:
        return None
    return str(o)


def _inline_script(text: str) -> str:
    """Script text safe inside ``<script>``: a literal ``</script`` would end the element."""
    return text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def _sha256_b64(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


#: plotly.js's official "cartesian" partial bundle (npm ``plotly.js-cartesian-dist-min``, MIT,
#: the same plotly.js version as the ``plotly`` package): every trace type the report draws,
#: 1.5 MB instead of the full bundle's 4.8 MB (the page must stay under 5 MB).  Refreshed by
#: ``scripts/update-plotly-bundle.sh``.
PLOTLY_BUNDLE = "plotly-cartesian.min.js"
#: Trace types the report's figures and script use (all in the cartesian bundle; tested).
TRACE_TYPES = ("bar", "box", "heatmap", "scatter")


def plotly_bundle() -> str:
    """The plotly.js bundle the page inlines (:data:`PLOTLY_BUNDLE`, shipped in the package)."""
    return _static(PLOTLY_BUNDLE)


def _compact_png(data: bytes) -> bytes:
    """A PNG for embedding at about a third of the size: figures hold few colours, so a
    256-colour palette (no dithering) looks the same.  The files on disk are untouched."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            q = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            buf = io.BytesIO()
            q.save(buf, format="PNG", optimize=True)
    except (OSError, ValueError):  # not a PNG Pillow can read: embed it as it is
        return data
    return buf.getvalue() if len(buf.getvalue()) < len(data) else data


def _static(name: str) -> str:
    return resources.files("ctcscope.report").joinpath("static", name).read_text(encoding="utf-8")


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(_compact_png(data)).decode("ascii")


def _file_uri(path: Path) -> str:
    if path.suffix.lower() == ".svg":
        return "data:image/svg+xml;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return _png_uri(path.read_bytes())


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG from its IHDR chunk (``None`` if ``data`` is not a PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _image(name: str, path: Path) -> dict:
    """A figure file of a step for the page, with its pixel size so the page reserves its
    space before the image is decoded (no layout shift under a link's target)."""
    size = _png_size(path.read_bytes()[:24]) if path.suffix.lower() == ".png" else None
    return {"name": name, "uri": _file_uri(path), "file": path.name,
            "width": size[0] if size else None, "height": size[1] if size else None}


# ------------------------------------------------------------------ model

class _Model:
    """Collects figures, tables and images while the sections are assembled."""

    def __init__(self, static_fallback: bool, max_table_rows: int = 20_000, max_table_bytes: int = 2_500_000):
        self.max_table_rows = max_table_rows
        self.max_table_bytes = max_table_bytes
        self.figures: dict[str, dict] = {}
        self.tables: dict[str, dict] = {}
        self.derived: dict[str, pd.DataFrame] = {}
        self.static_fallback = static_fallback

    def figure(self, fid: str, spec: dict | None, caption: str = "", static: bool = True,
               by_patient: dict[str, dict | None] | None = None) -> dict | None:
        """Register a plotly figure; ``static=False`` when a PNG of it is already on the page.

        ``by_patient``: the same figure drawn from each patient's samples alone (a cohort
        aggregate has no per-patient traces to hide); the page draws it under the filter."""
        if spec is None:
            return None
        if by_patient is not None:
            spec["by_patient"] = {p: (f["data"] if f else []) for p, f in by_patient.items()}
        # the page reserves the figure's height before plotly draws it (figures are drawn
        # lazily): without a fixed height a figure above a link's target would shift it
        spec.setdefault("layout", {}).setdefault("height", DEFAULT_FIGURE_HEIGHT)
        self.figures[fid] = spec
        png = _png_uri(F.static_png(spec)) if self.static_fallback and static else None
        return {"id": fid, "png": png, "caption": caption, "height": int(spec["layout"]["height"])}

    def table(self, name: str, df: pd.DataFrame | None, caption: str, source: str = "",
              derived: bool = False, preview_rows: int = 100,
              by_patient: dict[str, pd.DataFrame] | None = None, patient_note: str = "") -> dict | None:
        """Register a table for display and CSV download; ``derived`` tables are also
        written to ``report_tables/<name>.tsv`` (the same data in the output folder).

        Under the page's patient filter a table with a ``patient`` column shows that
        patient's rows; one without shows ``by_patient[patient]`` (the aggregate over that
        patient's samples, described by ``patient_note``) or, given neither, says that it
        is cohort-wide rather than pretend to be filtered."""
        if df is None or len(df.columns) == 0:
            return None
        df = df.reset_index(drop=True)
        if derived:
            self.derived[name] = df
            source = f"{TABLES_DIR}/{name}.tsv"
        cols = [str(c) for c in df.columns]
        num = [bool(pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])) for c in df.columns]
        n = len(df)
        # a huge table (e.g. drivers of 10,000 cells) is embedded in part (row and byte
        # budgets, the latter estimated from the first rows); the file has it all
        head = [[_cell(v) for v in r] for r in df.head(200).itertuples(index=False, name=None)]
        per_row = max(1.0, len(json.dumps(head, default=str)) / max(len(head), 1))
        keep = int(min(self.max_table_rows, max(200, self.max_table_bytes // per_row)))
        rows = head[:keep] + [[_cell(v) for v in r] for r in
                              df.iloc[len(head):keep].itertuples(index=False, name=None)]
        pcol = cols.index("patient") if "patient" in cols else None
        self.tables[name] = {"columns": cols, "numeric": num, "rows": rows, "patient_col": pcol,
                             "file": f"{name}.csv", "caption": caption, "n_total": n}
        if by_patient is not None:
            self.tables[name]["by_patient"] = {p: _embed(v) for p, v in by_patient.items()}
            self.tables[name]["patient_note"] = patient_note
        return {"name": name, "caption": caption, "source": source, "columns": cols, "numeric": num,
                "preview": rows[:preview_rows], "n": n, "n_embedded": len(rows)}


def _file_patients(linked: pd.DataFrame | None) -> dict[str, str]:
    """``{FCS file stem: patient}`` for files whose sorted samples belong to one patient."""
    if linked is None or not {"file", "patient"} <= set(linked.columns):
        return {}
    out = {}
    for f, g in linked.groupby(linked["file"].astype(str)):
        pats = set(g["patient"].dropna().astype(str)) - {""}
        if len(pats) == 1:
            out[Path(f).stem] = pats.pop()
    return out


def _gates_by_patient(gates: pd.DataFrame | None, file_patient: dict[str, str]) -> dict[str, pd.DataFrame] | None:
    if gates is None or "file" not in gates.columns or not file_patient:
        return None
    stem = gates["file"].astype(str).map(lambda f: Path(f).stem)
    return {p: gates[stem.map(file_patient.get) == p] for p in sorted(set(file_patient.values()))}


def _per_patient(obs: pd.DataFrame, summarise) -> dict[str, pd.DataFrame]:
    """``summarise(obs)`` over each patient's samples: a cohort summary's patient views."""
    if "patient" not in obs:
        return {}
    pat = obs["patient"].astype(str)
    return {p: summarise(obs[pat == p]) for p in sorted(set(pat) - {""})}


def _embed(df: pd.DataFrame) -> dict:
    """A small table (a patient's view of an aggregate) as the page's JSON: every row."""
    df = df.reset_index(drop=True)
    return {"columns": [str(c) for c in df.columns],
            "numeric": [bool(pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]))
                        for c in df.columns],
            "rows": [[_cell(v) for v in r] for r in df.itertuples(index=False, name=None)]}


def _cell(v: Any) -> Any:
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            return None
        return round(f, 4)
    if v is None or v is pd.NA:
        return None
    return str(v) if not isinstance(v, (int, str)) else v


def _notrun(step: str, command: str) -> dict:
    return {"step": step, "command": command}


def _section_summary(res: RunOutputs, m: _Model, simulated: bool) -> dict:
    s = S.run_summary(res)
    steps = [
        ("copy number", res.has("cohort.h5ad") or res.has("cells.tsv"), "ctcscope run"),
        ("cohort clustering", res.has("clusters.tsv"), "ctcscope cluster DIR"),
        ("drivers", res.has("drivers.tsv"), "ctcscope drivers DIR"),
        ("phenotypes (FCS)", res.has("phenotypes.tsv"), "ctcscope phenotype --fcs SORT.fcs --samples SHEET --out DIR"),
        ("resistance", res.has("resistance.json"), "ctcscope resist PATIENTS.yaml --out DIR"),
    ]
    bt = None
    if res.obs is not None:
        o = res.obs.assign(_pass=res.obs["qc_pass"].fillna(False).astype(bool) if "qc_pass" in res.obs else True)
        tab = (o.groupby(["patient", "sample_type"], observed=True)
               .agg(n=("_pass", "size"), n_qc_pass=("_pass", "sum")).reset_index())
        bt = m.table("samples_by_patient", tab, "Samples per patient and type", derived=True)
    return {"id": "summary", "title": "Run summary", "ran": True, "summary": s, "steps": steps,
            "by_patient": bt, "simulated": simulated}


def _section_qc(res: RunOutputs, m: _Model) -> dict:
    sec = {"id": "qc", "title": "Quality control"}
    if res.obs is None or not ({"qc_pass", "mapd", "reads"} & set(res.obs.columns)):
        return dict(sec, ran=False, notrun=_notrun("copy number (QC)", "ctcscope run"))
    qc = S.qc_table(res.obs)
    reasons = S.qc_reasons(res.obs)
    from ..cna.qc import QC_DEFAULTS

    from .collect import copy_number_parameters

    # the rules this run applied: the defaults with the run's own settings (run.json)
    given = copy_number_parameters(res.run)
    Q = {k: given.get(k, v) for k, v in QC_DEFAULTS.items()}

    rules = (f"fewer than {Q['min_reads']:,} reads in usable bins; MAPD above {Q['max_mapd']:g} at "
             f"{Q['mapd_bin_size'] // 1000:g} kb bins (scaled by 1/sqrt(bin size) at other bin sizes); fewer than "
             f"{Q['min_usable_fraction']:.0%} of the genome's usable bins with reads; more than "
             f"{Q['max_segments_per_100mb']:g} segments per 100 Mb (hyper-segmented); no callable ploidy")
    return dict(sec, ran=True, rules=rules, n_fail=int((~res.obs["qc_pass"].fillna(False).astype(bool)).sum())
                if "qc_pass" in res.obs else None,
                fig=m.figure("qc_scatter", F.fig_qc_scatter(qc)),
                reasons=m.table("qc_reasons", reasons if len(reasons) else None, "Failures by reason", derived=True,
                                by_patient=_per_patient(res.obs, S.qc_reasons),
                                patient_note="this patient's samples only"),
                table=m.table("qc", qc, "QC per sample (pass/fail with the reason)", source="cells.tsv"))


def _section_phenotypes(res: RunOutputs, m: _Model) -> dict:
    sec = {"id": "phenotypes", "title": "Phenotypes"}
    counts = S.phenotype_counts(res)
    # each FCS file's patient (from the sorted samples linked to it), so that the gating plot
    # and gate statistics of a file follow the page's patient filter
    file_patient = _file_patients(res.phenotypes)
    gating = [dict(_image(k, p), patient=file_patient.get(k[len("gating_"):], ""))
              for k, p in sorted(res.figures.items()) if k.startswith("gating")]
    step_fig = [_image(k, p) for k, p in sorted(res.figures.items())
                if k == "phenotypes"]
    if counts.empty and not gating:
        return dict(sec, ran=False, notrun=_notrun("phenotype", "ctcscope phenotype --fcs SORT.fcs --samples SHEET --out DIR"))
    linked = res.phenotypes
    return dict(sec, ran=True, fcs=res.phenotype_summary is not None or res.phenotypes is not None,
                fig=m.figure("phenotypes", F.fig_phenotypes(counts)),
                table=m.table("phenotype_counts", counts, "Phenotype counts per patient", derived=True),
                linked=m.table("phenotypes", linked, "Sequenced samples linked to their sorted wells "
                               "(phenotype after re-gating; cells outside the current gates are flagged)",
                               source="phenotypes.tsv"),
                gates=m.table("gates", res.gates, "Gate statistics per file and population", source="gates.tsv",
                              by_patient=_gates_by_patient(res.gates, file_patient),
                              patient_note="the FCS files of this patient's sorted samples"),
                gating=gating, step_fig=step_fig,
                n_outside=int((~linked["in_gate"].astype(str).str.lower().isin(("true", "1"))).sum())
                if linked is not None and "in_gate" in linked else None)


def _section_profiles(res: RunOutputs, m: _Model, max_profiles: int, max_display_bins: int) -> tuple[dict, dict]:
    sec = {"id": "profiles", "title": "Copy-number profiles"}
    if res.store is None or res.obs is None or "ratio" not in res.store.layers:
        return dict(sec, ran=False, notrun=_notrun("copy number", "ctcscope run")), {}
    chosen = S.choose_profiles(res.obs, max_profiles)
    genes = cytobands = None
    if res.genome.get("build") in ("hg19", "hg38"):
        from ..genome import load_genome

        # gene and band positions do not depend on the bin size
        g = load_genome(res.genome["build"], 500_000)
        cytobands = g.cytobands
        genes = g.genes if res.drivers is None else None
    payload = profile_payload(res, chosen, max_display_bins=max_display_bins, genes=genes, cytobands=cytobands)
    cn_static = payload.pop("cn_static", None)
    png = None
    if m.static_fallback and cn_static is not None and len(cn_static):
        png = _png_uri(F.profiles_png(cn_static, [s["id"] for s in payload["samples"]], payload["chroms"],
                                      payload["x0"]))
    grids = sorted(p.name for k, p in res.figures.items() if k.startswith("profiles_"))
    if grids and (res.out_dir / "figures" / "profiles.pdf").is_file():
        grids.append("profiles.pdf")
    return dict(sec, ran=True, n_shown=len(payload.get("samples", [])), n_total=res.n_samples, png=png, grids=grids,
                has_posterior=payload.get("grid") is not None,
                labels_from=payload.get("labels_from")), payload


def _section_ploidy(res: RunOutputs, m: _Model) -> dict:
    sec = {"id": "ploidy", "title": "Ploidy and instability"}
    if res.obs is None or "ploidy" not in res.obs:
        return dict(sec, ran=False, notrun=_notrun("copy number (ploidy)", "ctcscope run"))
    pc = S.ploidy_counts(res.obs)
    return dict(sec, ran=True,
                fig_bars=m.figure("ploidy_bars", F.fig_ploidy_bars(pc),
                                  "QC-passed tumour samples (normal-like excluded) at each base ploidy; 4n and above count as whole-genome "
                                  "doubling (the study's Fig. 2c)."),
                fig_cells=m.figure("ploidy_cells", F.fig_ploidy_cells(res.obs),
                                   "Red: WGD, blue: no WGD, grey: normal controls; open circles: ploidy ambiguous (read depth could not "
                                   "tell it from the runner-up, often k from 2k); dotted line at 3.5 copies. "
                                   "Hover for the ploidy confidence and P(WGD)."),
                fig_dna=m.figure("dna_index", F.fig_dna_index(res.obs),
                                 "Each index-sorted cell's DNA index (its Hoechst intensity over the G1 peak of the "
                                 "leukocytes of the same tube; grey diamonds: the leukocyte control wells, the 2n "
                                 "reference) against its called ploidy. Cells in G1 lie on the solid line, in G2/M on "
                                 "the dashed one, in S between; a cell of index 2 fits 4n in G1 and 2n in G2/M alike, "
                                 "and read depth decides only where the profile does. Open circles: ploidy ambiguous; "
                                 "thick black ring: DNA index and read depth disagree (the read-depth call is kept)."),
                fig_fga=m.figure("instability", F.fig_instability(res.obs),
                                 "Fraction of the usable genome whose integer copy number differs from the "
                                 "sample's ploidy, tumour samples."),
                counts=m.table("ploidy_counts", pc, "Samples per base ploidy and patient (QC-passed tumour samples, normal-like excluded)",
                               derived=True),
                inst=m.table("instability_by_patient", S.instability_by_patient(res.obs),
                             "Median instability per patient (QC-passed tumour samples, normal-like excluded)", derived=True),
                table=m.table("ploidy", S.ploidy_table(res.obs), "Ploidy, WGD and instability per sample",
                              source="cells.tsv"))


def _section_clustering(res: RunOutputs, m: _Model) -> dict:
    sec = {"id": "clustering", "title": "Clustering"}
    heat = [_image(k, p) for k, p in sorted(res.figures.items())
            if k.startswith("heatmap")]
    if res.clusters is None and not heat and res.diversity is None and res.diversity_test is None:
        return dict(sec, ran=False, notrun=_notrun("cohort", "ctcscope cluster DIR"))
    clusters = res.clusters
    if clusters is not None and res.obs is not None and "patient" not in clusters:
        clusters = clusters.merge(res.obs[["patient"]].reset_index(), on="sample_id", how="left")
    fig = None
    if clusters is not None and 2 <= len(clusters) <= COHORT_HEATMAP_MAX and res.store is not None:
        order = clusters.sort_values("cluster_order")["sample_id"].astype(str).tolist() \
            if "cluster_order" in clusters else clusters["sample_id"].astype(str).tolist()
        obs = res.obs.copy()
        if "clone" in clusters:
            obs["clone"] = clusters.set_index(clusters["sample_id"].astype(str))["clone"].reindex(obs.index)
        fig = m.figure("cohort_heatmap", F.fig_cohort_heatmap(cohort_matrix(res, order), obs),
                       "The same clustering drawn from the copy-number layer (autosomes, as clustered): hover a row for the sample, "
                       "zoom with the mouse, filter by patient.", static=False)
    return dict(sec, ran=True, heat=heat, fig=fig,
                clusters=m.table("clusters", clusters, "Clone of each clustered sample", source="clusters.tsv"),
                diversity=m.table("diversity", res.diversity, "Intra- and inter-patient diversity",
                                  source="diversity.tsv"),
                test=res.diversity_test,
                regions=m.table("altered_regions", res.altered_regions, "Shared and private altered regions per patient",
                                source="altered_regions.tsv"))


def _section_drivers(res: RunOutputs, m: _Model) -> dict:
    sec = {"id": "drivers", "title": "Drivers and pathways"}
    imgs = [_image(k, p) for k, p in sorted(res.figures.items())
            if k.startswith("driver")]
    if res.drivers is None and not imgs:
        return dict(sec, ran=False, notrun=_notrun("drivers", "ctcscope drivers DIR"))
    out = dict(sec, ran=True, imgs=imgs)
    if res.drivers is not None:
        d = res.drivers
        # the drivers step's own summaries when it wrote them; computed here otherwise
        # each patient's own frequencies and pathways, for the page's patient filter
        pats = PS.patients_of(d, res.obs)
        freq_p = {p: PS.driver_frequencies(d, res.obs, p) for p in pats}
        freq_note = ("this patient's analysable samples only, counted from its driver events (drivers.tsv); "
                     "the cohort table counts every gene state")
        if res.driver_frequencies is not None:
            freq = S.frequencies_from_step(res.driver_frequencies)
            freq_t = m.table("driver_frequencies", res.driver_frequencies,
                             "Gain and loss frequency per driver gene (fractions of analysable samples)",
                             source="driver_frequencies.tsv", by_patient=freq_p, patient_note=freq_note)
        else:
            freq = S.driver_frequencies(d, res.obs)
            freq_t = m.table("driver_frequencies", freq, "Gain and loss frequency per driver gene", derived=True,
                             by_patient=freq_p, patient_note=freq_note)
        if res.driver_groups is not None:
            counts = S.group_counts_from_step(res.driver_groups)
            groups_t = m.table("driver_groups", res.driver_groups,
                               "Drivers by drug group at resistance (exclusive or shared)", source="driver_groups.tsv",
                               by_patient={p: PS.carried_group_drivers(res.driver_groups, d, res.obs, p) for p in pats},
                               patient_note="the drivers this patient carries; counts are still the groups' own")
            groups_s = m.table("driver_groups_summary", res.driver_groups_summary,
                               "Drivers per group category", source="driver_groups_summary.tsv")
        else:
            per_gene, counts = S.group_comparison(d)
            groups_t = m.table("driver_groups", per_gene if len(per_gene) else None,
                               "Driver genes by drug group at resistance (exclusive or shared)", derived=True,
                               by_patient={p: PS.carried_group_drivers(per_gene, d, res.obs, p) for p in pats},
                               patient_note="the drivers this patient carries; counts are still the groups' own")
            groups_s = None
        top_genes = most_altered_genes(res.driver_frequencies)
        no_groups = (res.driver_groups is not None and len(res.driver_groups) == 0) or groups_t is None
        if no_groups:
            # nothing to compare: one sentence instead of empty tables and a placeholder figure
            groups_t = groups_s = None
            out["imgs"] = [i for i in imgs if i["name"] not in ("drivers_groups", "driver_frequencies_by_group")]
            out["groups_note"] = ("No comparison between drug groups at resistance: it needs the drug at "
                                  "resistance of at least two patients (the patient sheet's treatment lines) "
                                  "and driver events in their QC-passed tumour samples.")
        out.update(
            fig_heat=m.figure("driver_heatmap", F.fig_driver_heatmap(d, res.obs, max_samples=DRIVER_HEATMAP_MAX)),
            heat_skipped=d["sample_id"].nunique() > DRIVER_HEATMAP_MAX,
            fig_freq=m.figure("driver_frequency", F.fig_gene_frequency(freq), by_patient={
                p: F.fig_gene_frequency(S.frequencies_from_step(f)) for p, f in freq_p.items()}),
            fig_freq_groups=m.figure("driver_frequency_groups", F.fig_gene_frequency_by_group(
                res.driver_frequencies_by_group, top_genes),
                "The most often altered driver genes within each drug group at resistance (the group's "
                "analysable samples; driver_frequencies_by_group.tsv)."),
            freq=freq_t,
            fig_groups=m.figure("driver_groups", F.fig_group_comparison(counts)),
            groups=groups_t, groups_summary=groups_s,
            pathways=m.table("pathways", res.pathways, "Pathways ordered by altered genes", source="pathways.tsv",
                             by_patient={p: PS.pathways(d, res.obs, p) for p in pats},
                             patient_note="this patient's analysable samples only"),
            table=m.table("drivers", d, "Driver events (one row per sample and gene)", source="drivers.tsv"),
        )
    return out


def _section_resistance(res: RunOutputs, m: _Model) -> dict:
    sec = {"id": "resistance", "title": "Resistance per patient"}
    if res.resistance is None:
        return dict(sec, ran=False, notrun=_notrun("resistance", "ctcscope resist PATIENTS.yaml --out DIR"))
    views = patient_views(res.resistance)
    flat = flat_tables(views)
    tables = [m.table(k, v if len(v) else None, k.replace("_", " ").capitalize(), derived=True)
              for k, v in flat.items()]
    kb = res.resistance.get("knowledge_base") or res.resistance.get("kb")
    return dict(sec, ran=True, patients=views, tables=[t for t in tables if t], kb=kb, tki_order=TKI_ORDER,
                top_caveats=res.resistance.get("caveats") or [])


def _section_methods(res: RunOutputs, simulated: bool) -> dict:
    steps = []
    for st in run_steps(res.run):
        if st.get("step") == "report":
            continue
        steps.append({
            "step": str(st.get("step", st.get("command", ""))), "command": str(st.get("command", "")),
            "started": str(st.get("started", "")), "parameters": st.get("parameters") or {},
            "versions": st.get("versions") or {}, "inputs": st.get("inputs") or [],
            "genome": st.get("genome") or {},
        })
    files = []
    for name in res.files:
        p = res.out_dir / name
        files.append({"file": name, "bytes": p.stat().st_size})
    for k, p in sorted(res.figures.items()):
        files.append({"file": f"figures/{p.name}", "bytes": p.stat().st_size})
    return {"id": "methods", "title": "Methods and provenance", "ran": True, "steps": steps, "files": files,
            "genome": res.genome, "citations": CITATIONS, "simulated": simulated, "run": res.run or {}}


# ------------------------------------------------------------------ render

def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ctcscope.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["num"] = _fmt_num
    env.filters["bytes"] = _fmt_bytes
    env.filters["tojson_pretty"] = lambda v: json.dumps(_clean(v), indent=1, ensure_ascii=False)
    return env


def _fmt_num(v: Any, nd: int = 3) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return ""
    return f"{f:.{nd}g}" if abs(f) < 1000 else f"{f:,.0f}"


def _fmt_bytes(n: Any) -> str:
    n = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def render_report(res: RunOutputs, *, max_profiles: int = 300, max_display_bins: int = 3000,
                  static_fallback: bool = True) -> tuple[str, dict[str, pd.DataFrame]]:
    """The page for ``res`` as a string, and the derived tables to save next to it."""
    simulated = is_simulated(res)
    m = _Model(static_fallback)
    profiles_sec, profiles = _section_profiles(res, m, max_profiles, max_display_bins)
    sections = [
        _section_summary(res, m, simulated), _section_qc(res, m), _section_phenotypes(res, m), profiles_sec,
        _section_ploidy(res, m), _section_clustering(res, m), _section_drivers(res, m),
        _section_resistance(res, m), _section_methods(res, simulated),
    ]
    patients = sorted(set(res.obs["patient"]) - {""}, key=F.natural_key) if res.obs is not None else []
    for v in (sections[7].get("patients") or []):
        if v["patient"] and v["patient"] not in patients:
            patients.append(v["patient"])
    started = ""
    # the report's own block (from an earlier build) is left out so rebuilding gives the same page
    steps = [st for st in run_steps(res.run) if st.get("step") != "report"]
    if steps:
        started = max(str(s.get("started", "")) for s in steps)
    plotly_js = _inline_script(plotly_bundle())
    report_js = _inline_script(_static("report.js"))
    csp = ("default-src 'none'; "
           f"script-src 'sha256-{_sha256_b64(plotly_js)}' 'sha256-{_sha256_b64(report_js)}'; "
           "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'; "
           "media-src 'none'; object-src 'none'; frame-src 'none'; worker-src 'none'; base-uri 'none'; "
           "form-action 'none'")
    data = {"figures": m.figures, "tables": m.tables, "profiles": profiles, "patients": patients,
            "simulated": simulated, "profile_height": PROFILE_HEIGHT}
    html = _environment().get_template("report.html.j2").render(
        sections={s["id"]: s for s in sections}, nav=[(s["id"], s["title"], s.get("ran", False)) for s in sections],
        simulated=simulated, research_use=RESEARCH_USE, version=__version__, started=started,
        out_name=res.out_dir.resolve().name, patients=patients, css=_static("report.css"), csp=csp,
        plotly_js=plotly_js, report_js=report_js, data_json=safe_json(data),
        n_samples=res.n_samples, profile_height=PROFILE_HEIGHT,
    )
    return html, m.derived


def is_ctcscope_report(path: str | Path) -> bool:
    """True when ``path`` is a page ctcscope wrote (its ``generator`` meta tag says so)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b'<meta name="generator" content="ctcscope' in head


def check_report_target(target: str | Path) -> None:
    """Refuse a report path that would replace anything but an earlier ctcscope report."""
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"{target} is a folder; give a file name ending in .html for the report")
    if target.suffix.lower() not in (".html", ".htm"):
        raise OutputError(f"{target.name}: give the report a file name ending in .html")
    if target.exists() and not is_ctcscope_report(target):
        raise OutputError(f"{target} exists and is not a ctcscope report; choose another file name, "
                          "ctcscope replaces only its own reports")


def build_report(out_dir: str | Path, *, output: str | Path | None = None, max_profiles: int = 300,
                 max_display_bins: int = 3000, static_fallback: bool = True, write_tables: bool = True) -> Path:
    """Write ``report.html`` for a ctcscope output folder and return its path.

    Parameters
    ----------
    out_dir : the folder of a run (``ctcscope run/demo --out``); any subset of the contract
        files may be present, steps that did not run get a short "not run" note.
    output : where to write the page (default ``out_dir/report.html``).
    max_profiles : genome-wide profiles embedded for on-demand viewing; larger runs embed a
        stratified subset (every patient and clone represented) and say so.
    max_display_bins : display resolution of embedded profiles (bins are merged above it).
    static_fallback : add ``<noscript>`` PNGs of every interactive figure.
    write_tables : also write the tables the report derives to ``out_dir/report_tables``.
    """
    target = Path(output) if output is not None else Path(out_dir) / "report.html"
    check_report_target(target)
    res = collect_outputs(out_dir)
    html, derived = render_report(res, max_profiles=max_profiles, max_display_bins=max_display_bins,
                                  static_fallback=static_fallback)
    if write_tables:
        for name, df in derived.items():
            write_tsv(res.out_dir / TABLES_DIR / f"{name}.tsv", df)
    with atomic_path(target) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return target
