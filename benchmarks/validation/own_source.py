"""Cohorts of the project's own simulator (``ctcscope.simulate``), for comparison only.

The engine was developed on this simulator, so its figures here are not evidence of
accuracy elsewhere; they are kept to show that work for other sources does not cost
accuracy on the data the study's design resembles.  Variants:

* ``default`` — the bias preset calibrated on real cells (docs/simulate.md);
* ``stress``  — 21 Mb waves of 2-8 % that no other sample shares;
* ``nocontrols`` — the default preset with the leukocyte and germline controls removed
  (a run whose corrections must come from the tumour cells themselves);
* ``cellline`` — one "patient" of 60 cells from one or two clones of one ploidy (2n-6n,
  half of them doubled), no pools, no controls, no flat cells: a DLP+ or 10x run of a cell
  line, where every cell shares the trunk's events and run-level corrections can only be
  learnt from the tumour cells;
* ``sphase`` — the default preset with 20 % of single cells caught in S phase (their read
  depth follows replication timing: ``ctcscope.simulate.counts.replication_factor``).
* ``doubled`` — 2n and 4n clones whose doublings gained no or one change since (no focal
  events, no private events): read depth alone cannot tell most of these 4n cells from
  2n ones, the case the DNA index of the index sort is for (issue 11); 15 % of single
  cells in S phase.

Seeds: tuning 1-12 (as when the engine was first built); held out 101-125 (101-110
default, 111-115 stress, 121-125 nocontrols).
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from .common import Cohort

SEEDS = {
    "default": {"tune": (1, 2, 3, 4, 5, 6), "holdout": tuple(range(101, 111))},
    "stress": {"tune": (7, 8, 9), "holdout": tuple(range(111, 116))},
    "nocontrols": {"tune": (10, 11, 12), "holdout": tuple(range(121, 126))},
    "cellline": {"tune": (13, 14, 15, 16), "holdout": tuple(range(131, 139))},
    "sphase": {"tune": (17, 18), "holdout": tuple(range(141, 146))},
    "doubled": {"tune": (19, 20), "holdout": tuple(range(151, 157))},
}


def cohort(seed: int, variant: str = "default", *, split: str = "holdout", n_cells: int = 40,
           build: str = "hg19", bin_size: int = 500_000) -> Cohort:
    from ctcscope.genome import load_genome
    from ctcscope.simulate import Bias, random_design, simulate_cohort

    g = load_genome(build, bin_size)
    g500 = load_genome(build, 500_000)
    preset = "stress" if variant == "stress" else "default"
    bias = Bias.preset(preset)
    if variant == "sphase":
        bias = Bias(s_phase=0.2)
    if variant == "doubled":
        bias = Bias(s_phase=0.15)
    if variant == "cellline":
        rng = np.random.default_rng(seed)
        design = random_design(60, seed=seed, genome=g500, bias=bias, n_patients=1,
                               clones_per_patient=(1, 2), ploidies=(int(rng.choice([2, 3, 4, 4, 5, 6])),),
                               normal_like=0.0, pools_per_patient=0, controls=False)
    elif variant == "doubled":
        design = random_design(n_cells, seed=seed, genome=g500, bias=bias, ploidies=(2, 4), focal=False,
                               private_events=(0, 0), post_wgd_events=(0, 1))
    else:
        design = random_design(n_cells, seed=seed, genome=g500, bias=bias)
    sim = simulate_cohort(design, g, seed=seed)
    ad_ = sim.adata
    tr = sim.truth.samples.set_index("sample_id").loc[ad_.obs_names]
    cn = sim.truth.cn.astype(np.float64)
    keep = np.ones(ad_.n_obs, bool)
    if variant == "nocontrols":
        keep = ~tr.sample_type.isin(["wbc", "germline"]).to_numpy()
    tumour = tr.sample_type.isin(["ctc", "ctc_pool", "biopsy"]).to_numpy()
    truth = pd.DataFrame({
        "ploidy": tr.ploidy.astype(float).to_numpy(),
        "wgd": tr.wgd.astype(float).to_numpy(),
        # the engine's floors were always measured on tumour samples with an altered genome;
        # flat "CTCs" are scored separately (they carry no ploidy information)
        "score": tumour & ~tr.normal_like.to_numpy(),
        "mean_cn": tr.mean_cn.to_numpy(),
        "clone": tr.clone.astype(str).to_numpy(),
        "sample_type": tr.sample_type.astype(str).to_numpy(),
        "pool_size": tr.pool_size.to_numpy(),
        "normal_like": tr.normal_like.to_numpy(),
        "phase": tr.phase.astype(str).to_numpy() if "phase" in tr else "G1",
        "s_phase_progress": tr.s_phase_progress.to_numpy(np.float64) if "s_phase_progress" in tr else np.nan,
    }, index=ad_.obs_names)
    a = ad_[keep].copy()
    return Cohort(source=f"own:{variant}", name=f"seed{seed}", split=split, adata=a, truth=truth.loc[a.obs_names],
                  cn=cn[keep], note="ctcscope.simulate random_design; wgd = study rule (ploidy >= 4)")


def cohorts(variant: str = "default", split: str = "holdout", *, quick: bool = False, **kw) -> Iterator[Cohort]:
    seeds = SEEDS[variant][split]
    if quick:
        seeds = seeds[:1]
    for s in seeds:
        yield cohort(s, variant, split=split, **kw)
