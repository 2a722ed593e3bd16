"""Small BAM builders for the tests (pysam), with the reads kept as plain tuples so the
expected counts can be computed independently of ctcscope's counter."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pysam

HG19 = {"1": 249_250_621, "2": 243_199_373, "3": 198_022_430}
HG38 = {"1": 248_956_422, "2": 242_193_529, "3": 198_295_559}


@dataclass
class Read:
    ref: int  # index into the header contigs, -1 unplaced
    pos: int
    flag: int = 0
    mapq: int = 60
    name: str = "r"
    mate_ref: int = -1
    mate_pos: int = -1


def header(contigs: dict[str, int], prefix: str = "", so: str | None = "coordinate") -> dict:
    h = {"SQ": [{"SN": prefix + c if c[0].isdigit() or c in "XY" else c, "LN": int(n)} for c, n in contigs.items()]}
    if so is not None:
        h["HD"] = {"VN": "1.6", "SO": so}
    return h


def write_bam(path, hdr: dict, reads: list[Read], index: bool = False, length: int = 100) -> str:
    seq = ("ACGT" * (length // 4 + 1))[:length]
    qual = pysam.qualitystring_to_array("I" * length)
    with pysam.AlignmentFile(str(path), "wb", header=hdr) as f:
        for i, r in enumerate(reads):
            a = pysam.AlignedSegment(f.header)
            a.query_name = r.name if r.name != "r" else f"r{i}"
            a.flag = int(r.flag)
            a.reference_id = int(r.ref)
            a.reference_start = int(r.pos)
            a.mapping_quality = int(r.mapq)
            if not (r.flag & 0x4):
                a.cigarstring = f"{length}M"
            a.query_sequence = seq
            a.query_qualities = qual
            if r.flag & 0x1:
                a.next_reference_id = int(r.mate_ref)
                a.next_reference_start = int(r.mate_pos)
            f.write(a)
    if index:
        pysam.index(str(path))
    return str(path)


def random_reads(n: int, contigs: dict[str, int], seed: int, sort: bool = True) -> list[Read]:
    """Single-end reads with every kind of flag and MAPQ, spread over ``contigs``."""
    rng = np.random.default_rng(seed)
    lengths = np.array(list(contigs.values()))
    ref = rng.integers(0, len(lengths), n)
    pos = (rng.random(n) * lengths[ref]).astype(np.int64)
    flags = rng.choice([0, 16, 4, 0x100, 0x800, 0x200, 0x400, 0x410, 0x904], n,
                       p=[.5, .3, .03, .03, .03, .03, .03, .03, .02])
    mapq = rng.choice([0, 1, 29, 30, 31, 60], n, p=[.05, .05, .1, .1, .1, .6])
    order = np.lexsort((pos, ref)) if sort else np.arange(n)
    return [Read(int(ref[i]), int(pos[i]), int(flags[i]), int(mapq[i])) for i in order]


def reference_counts(reads: list[Read], contig_names: list[str], genome, min_mapq: int = 30) -> np.ndarray:
    """Expected counts by the documented rules, computed read by read (no ctcscope counter)."""
    from ctcscope.genome import canonical_chrom

    counts = np.zeros(genome.n_bins, np.int64)
    chroms, poss = [], []
    for r in reads:
        f = r.flag
        if f & 0x4 or r.ref < 0 or f & 0x100 or f & 0x800 or f & 0x200 or f & 0x400:
            continue
        if f & 0x1 and f & 0x80 and not f & 0x40 and not f & 0x8:
            continue
        if r.mapq < min_mapq:
            continue
        chroms.append(canonical_chrom(contig_names[r.ref]))
        poss.append(r.pos)
    idx = genome.bin_index(np.array(chroms, dtype=object).astype(str), np.array(poss, dtype=np.int64))
    np.add.at(counts, idx[idx >= 0], 1)
    return counts
