"""A simulated index-sort DNA index for the cells of any validation cohort (issue 11).

No source here (CNAsim, the real 10x and DLP+ cells) comes with a Hoechst measurement, so
each single tumour cell is given one drawn from its TRUE DNA content:

    DNA index = true mean copy number / 2 x cycle factor x staining factor x exp(N(0, cv))

with the cell's true phase where the source records it (S: 1 + copied share, drawn
uniform in 0.1-0.9 where not recorded; G2/M: 2), else G2/M drawn for a share of cells the
source cannot show in its reads (a G2 profile is the G1 profile doubled); a staining factor
below 1 (efflux) for a share of cells; and ``dna_index_sd`` as the index sort reports it:
the leukocytes' CV.  Two settings:

* ``default`` — CV 4.5 % (leukocytes 3.5 %), 8 % G2/M, 5 % efflux-dimmed to 0.5-0.85;
* ``stress`` — CV 8 % (leukocytes 5 %), 15 % G2/M, 10 % dimmed to 0.4-0.85: outside the
  engine's error model on purpose (its floor is 4 %, its dimming prior 5 % down to 0.5).

This is the project's model of a measurement, not third-party data: what it shows is how
much a DNA index of this quality adds to read depth that the engine did not generate.
"""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

SETTINGS = {
    "default": dict(cv=0.045, ref_cv=0.035, g2=0.08, dim=0.05, dim_range=(0.5, 0.85)),
    "stress": dict(cv=0.08, ref_cv=0.05, g2=0.15, dim=0.10, dim_range=(0.4, 0.85)),
}


def attach_dna_index(cohort, setting: str = "default"):
    """A copy of ``cohort`` whose single tumour cells carry ``obs['dna_index']`` and
    ``obs['dna_index_sd']``; ``truth`` gains ``dna_phase`` and ``dna_true``."""
    import copy

    s = SETTINGS[setting]
    c = copy.copy(cohort)
    a = cohort.adata.copy()
    tr = cohort.truth.copy()
    rng = np.random.default_rng([zlib.crc32(f"{cohort.source}/{cohort.name}/{setting}".encode()), 11])
    n = a.n_obs
    st = a.obs["sample_type"].astype(str).to_numpy()
    pool = pd.to_numeric(a.obs.get("pool_size", pd.Series(1, index=a.obs_names)), errors="coerce").fillna(1).to_numpy()
    single = (st == "ctc") & (pool == 1)
    mean_cn = (tr["mean_cn"].to_numpy(np.float64) if "mean_cn" in tr else np.full(n, np.nan))
    mean_cn = np.where(np.isfinite(mean_cn), mean_cn, tr["ploidy"].to_numpy(np.float64))
    phase = tr["phase"].astype(str).to_numpy() if "phase" in tr else np.full(n, "G1", dtype=object)
    phase = np.where(np.isin(phase, ["S", "G2", "G2/M"]), phase, "G1").astype(object)
    prog = tr["s_phase_progress"].to_numpy(np.float64) if "s_phase_progress" in tr else np.full(n, np.nan)
    u = rng.random((n, 5))
    g1 = phase == "G1"
    phase[g1 & (u[:, 0] < s["g2"])] = "G2/M"
    prog = np.where(np.isfinite(prog), prog, 0.1 + 0.8 * u[:, 1])
    factor = np.where(phase == "S", 1.0 + prog, np.where(np.isin(phase, ["G2", "G2/M"]), 2.0, 1.0))
    lo, hi = s["dim_range"]
    stain = np.where(u[:, 2] < s["dim"], lo + (hi - lo) * u[:, 3], 1.0)
    true_di = mean_cn / 2.0 * factor
    di = true_di * stain * np.exp(rng.normal(0.0, s["cv"], n))
    ok = single & np.isfinite(di) & (di > 0)
    a.obs["dna_index"] = np.where(ok, di, np.nan)
    a.obs["dna_index_sd"] = np.where(ok, di * s["ref_cv"], np.nan)
    tr["dna_phase"] = np.where(ok, phase, "")
    tr["dna_true"] = np.where(ok, true_di, np.nan)
    c.adata, c.truth = a, tr
    return c
