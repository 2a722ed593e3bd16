"""Is the simulator's noise realistic?  Real single cells against simulated flat cells.

    python benchmarks/real_noise.py [--cells 40] [--seed 5] [--bulk-dir DIR]

Every profile goes through the same steps: the engine's GC/mappability correction
(``ctcscope.cna.pipeline._pass_correct``, no panel of normals), then, relative to each
autosome's median (all cells here are flat or nearly so):

* MAPD and the over-dispersion ``alpha`` of the noise model;
* :func:`ctcscope.cna.noise.waviness_profile`: the bin-level white noise and the *excess*
  scatter of 2-50 Mb windows and of chromosome arms beyond white noise (what long-range
  waviness does to segment means);
* for cells of one run: the correlation between cells of their 5 Mb-smoothed profiles (how
  much of the waviness the run shares).

Real single cells (tests/data): AneuFinder's euploid human cell (Bakker et al. 2016, direct
library, no WGA), the three 10x Genomics scCNV cells of the SCOPE demo (one run), the SCclust
example cell (Wigler-lab varbins).  With ``--bulk-dir`` (the project's shared data folder):
27 healthy-donor ULP-WGS cfDNA samples of ichorCNA's panel of normals and the LGG150 bulk
shallow WGS of QDNAseq, for the waviness of bulk DNA.

Simulated: single cells of the flat (normal) karyotype with the ``default`` and ``stress``
bias presets (:meth:`ctcscope.simulate.Bias.preset`); the realism check is that the default
range covers the worst real cell at every scale.
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parents[1]
REAL = [
    ("aneufinder", "aneufinder-testdata/euploid_HB150318_1_003.bam_binsize_500000.tsv.gz"),
    ("10x", "scope-10x-demo/scope_demo_10x_3cells_hg19_500kb_counts.tsv.gz"),
    ("scclust", "scclust-jysonganan/example1.varbin.20k.tsv.gz"),
]
SCALES = ["excess_2mb", "excess_5mb", "excess_10mb", "excess_20mb", "excess_50mb", "excess_arm"]


def profile_of_counts(counts: np.ndarray, bins: pd.DataFrame) -> tuple[dict, np.ndarray]:
    from ctcscope.cna import estimate_noise, mapd
    from ctcscope.cna.noise import waviness_profile
    from ctcscope.cna.pipeline import DEFAULTS, _pass_correct

    counts = np.asarray(counts, dtype=np.float64)
    r = _pass_correct(counts, bins, DEFAULTS)["ratio"].astype(np.float64)
    chrom = bins["chrom"].astype(str).to_numpy()
    noise = estimate_noise(counts, r, chrom)
    out = {"reads": int(counts.sum()), "mapd": mapd(r, chrom), "alpha": noise.alpha, **waviness_profile(r, bins)}
    return out, r


def smoothed_rel(ratio: np.ndarray, bins: pd.DataFrame, bandwidth_mb: float = 2.5) -> np.ndarray:
    """log of ratio / autosome median, Gaussian-smoothed along each chromosome."""
    from ctcscope.cna.correct import smooth_by_chrom

    chrom = bins["chrom"].astype(str).to_numpy()
    lev = pd.Series(ratio).groupby(chrom).transform("median").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        lr = np.log(np.where(ratio > 0, ratio / lev, np.nan))
    pos = 0.5 * (bins["start"].to_numpy() + bins["end"].to_numpy())
    return smooth_by_chrom(lr, chrom, pos, bandwidth_mb * 1e6)


def pair_correlations(S: np.ndarray) -> np.ndarray:
    ok = np.isfinite(S).all(axis=0)
    C = np.corrcoef(S[:, ok])
    return C[np.triu_indices_from(C, 1)]


def real_cells(genome) -> tuple[pd.DataFrame, list[float]]:
    from ctcscope.io.counts import load_counts

    rows, corr = [], []
    for name, rel in REAL:
        a, g = load_counts(ROOT / "tests" / "data" / rel, genome)
        S = []
        for i, sid in enumerate(a.obs_names):
            p, r = profile_of_counts(np.asarray(a.layers["counts"][i]), g.bins)
            rows.append({"source": f"real {name}", "cell": str(sid)[:16], **p})
            S.append(smoothed_rel(r, g.bins))
        if len(S) > 1:
            corr += list(pair_correlations(np.vstack(S)))
    return pd.DataFrame(rows), corr


def simulated_cells(genome, preset: str, n: int, seed: int) -> tuple[pd.DataFrame, list[float]]:
    from ctcscope.simulate import Bias, design_from_dict, simulate_cohort

    d = design_from_dict({"name": f"flat cells ({preset})", "patients": [{
        "id": "P1", "sex": "F", "clones": [{"name": "A", "ploidy": 2}],
        "samples": [{"id": f"SIM-N{i:02d}", "clone": "normal"} for i in range(n)]}]})
    d.bias = Bias.preset(preset)
    sim = simulate_cohort(d, genome, seed=seed)
    rows, S = [], []
    for i, sid in enumerate(sim.adata.obs_names):
        p, r = profile_of_counts(np.asarray(sim.adata.layers["counts"][i]), genome.bins)
        rows.append({"source": f"simulated {preset}", "cell": f"{sid} wave={sim.truth.samples.wave_sd.iloc[i]:.3f}", **p})
        S.append(smoothed_rel(r, genome.bins))
    return pd.DataFrame(rows), list(pair_correlations(np.vstack(S)))


def bulk_samples(folder: Path) -> pd.DataFrame:
    """Waviness of real bulk low-pass DNA (no WGA): ichorCNA healthy donors, LGG150."""
    from ctcscope.cna import estimate_noise, gc_correct, segment
    from ctcscope.cna.noise import waviness_profile

    rows = []
    hd = pd.read_csv(folder / "ichorCNA-extdata/HD_ULP_PoN_500kb_median_normAutosome_mapScoreFiltered_median.tsv.gz",
                     sep="\t")
    b = pd.DataFrame({"chrom": hd["chrom"].astype(str), "start": hd["start"] - 1, "end": hd["end"]})
    for c in [c for c in hd.columns if c.startswith("HD")]:
        rows.append({"source": "real bulk cfDNA (ichorCNA HD)", "cell": c.split(".")[0],
                     **waviness_profile(2.0 ** hd[c].to_numpy(float), b)})
    lg = pd.read_csv(folder / "qdnaseq-LGG150/LGG150_chr7-10_hg19_15kbp_readcounts.tsv.gz", sep="\t")
    # 33 x 15 kb ≈ 500 kb bins, as the cells
    lg = lg[(lg["use"] == 1) & (lg["bases"] > 99)].copy()
    lg["g"] = (lg["start"] - 1) // 495_000
    agg = lg.groupby(["chromosome", "g"]).agg(start=("start", "min"), end=("end", "max"), gc=("gc", "mean"),
                                              mappability=("mappability", "mean"), n=("counts", "sum"),
                                              k=("counts", "size")).reset_index()
    agg = agg[agg.k > 25].rename(columns={"chromosome": "chrom"})
    agg["chrom"] = agg["chrom"].astype(str)
    agg["gc"] /= 100
    agg["mappability"] /= 100
    agg["use"] = True
    counts = agg["n"].to_numpy(float)
    r = gc_correct(counts, agg)
    noise = estimate_noise(counts, r, agg["chrom"].to_numpy())
    _, lev = segment(r, agg, noise=noise, method="pelt", beta=10.0)  # LGG150 carries real CNAs
    rows.append({"source": "real bulk LGG150 (chr7-10)", "cell": "LGG150", **waviness_profile(r, agg, lev)})
    return pd.DataFrame(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=40)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--bulk-dir", type=Path, default=None, help="the shared data folder (bulk comparisons)")
    a = ap.parse_args()
    from ctcscope.genome import load_genome

    g = load_genome("hg19", 500_000)
    pd.set_option("display.width", 220)
    pd.set_option("display.max_columns", 30)
    real, rcorr = real_cells(g)
    print("== real single cells (after GC correction; relative to each autosome's median)")
    print(real.round(4).to_string(index=False))
    print(f"between-cell correlation of 5 Mb-smoothed profiles, 10x run (3 cells): {np.round(rcorr, 2).tolist()}")
    worst = real[SCALES].max()
    for preset in ("default", "stress"):
        sim, scorr = simulated_cells(g, preset, a.cells, a.seed)
        print(f"\n== simulated flat single cells, bias preset '{preset}' (n={len(sim)})")
        summ = sim[["mapd", "alpha", "white"] + SCALES].describe().loc[["min", "50%", "max"]]
        print(summ.round(4).to_string())
        print(f"between-cell correlation of 5 Mb-smoothed profiles: median {np.median(scorr):.2f}"
              f" [{np.min(scorr):.2f}-{np.max(scorr):.2f}]")
        ratio = sim[SCALES].max() / worst
        print("simulated max / worst real cell, by scale:", ", ".join(f"{k[7:]} {v:.2f}" for k, v in ratio.items()))
    if a.bulk_dir is not None:
        bulk = bulk_samples(a.bulk_dir)
        print("\n== real bulk low-pass DNA")
        print(bulk.groupby("source")[["white"] + SCALES].describe().T.round(4).to_string())


if __name__ == "__main__":
    main()
