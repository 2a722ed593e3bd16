"""Random cohort designs for tests and benchmarks.

:func:`random_design` draws patients with 1-3 clones at base ploidies 2n-6n (4n and 6n
mostly by whole-genome doubling), trunk/clone/private arm-level and sub-arm events, focal
amplifications at real driver loci and CDKN2A homozygous deletions, normal-like "CTCs",
pools, leukocyte and germline controls, and optionally a biopsy and sparse cells.

Every tumour karyotype is checked so that its base ploidy really is its most common copy
number (at least ``MIN_BASE_FRACTION`` of the usable autosomal genome), and carries
single-copy changes relative to that base, so the true ploidy is identifiable from the
data (a doubled genome with only even changes could not be told from the undoubled one).
"""
from __future__ import annotations

import numpy as np

from ..genome import AUTOSOMES, Genome, load_genome
from .design import NORMAL_CLONE, Bias, Clone, Design, Event, Patient, Sample
from .karyotype import apply_events, clone_profile, modal_cn

#: Drivers used for planted focal amplifications (real loci of the gene table).
FOCAL_AMP_GENES = ("MET", "MYC", "ALK", "ERBB2", "EGFR", "CCND3", "CDK4", "MYCN", "FGFR1", "KRAS", "MDM2")
#: Planted homozygous deletions.
HOMDEL_GENES = ("CDKN2A",)
#: Least fraction of the usable autosomal genome at the base ploidy.
MIN_BASE_FRACTION = 0.45
#: Longest stretch at 0 copies allowed outside planted focal deletions (bp).
MAX_ZERO_RUN = 5_000_000


def _arms(genome: Genome) -> list[str]:
    b = genome.bins[genome.bins.use & genome.bins.chrom.isin(AUTOSOMES)]
    n = b.groupby(["chrom", "arm"]).size()
    # arms with at least 20 Mb of usable bins (drops acrocentric p arms)
    keep = n[n * genome.bin_size >= 20_000_000] if genome.bin_size else n
    return [f"{c}{a}" for c, a in keep.index]


def _sub_arm(genome: Genome, arm: str, rng: np.random.Generator, min_mb=8, max_mb=40) -> str:
    c, a = arm[:-1], arm[-1]
    b = genome.bins[(genome.bins.chrom == c) & (genome.bins.arm == a) & genome.bins.use]
    lo, hi = int(b.start.min()), int(b.end.max())
    length = int(rng.uniform(min_mb, max_mb) * 1e6)
    length = min(length, max(hi - lo - 1, 1))
    s = int(rng.integers(lo, max(hi - length, lo + 1)))
    return f"{c}:{s}-{s + length}"


def _random_events(rng, genome, arms, n, ploidy_now, allow_double=False) -> list[Event]:
    """``n`` arm, chromosome or sub-arm events of +-1 (occasionally +-2) copies."""
    out = []
    for _ in range(n):
        kind = rng.choice(["arm", "chrom", "sub"], p=[0.55, 0.25, 0.20])
        arm = arms[rng.integers(len(arms))]
        region = {"arm": arm, "chrom": arm[:-1], "sub": None}[kind] or _sub_arm(genome, arm, rng)
        step = 2 if (allow_double and ploidy_now >= 3 and rng.random() < 0.15) else 1
        sign = -1 if (rng.random() < 0.5 and ploidy_now > 1) else 1
        out.append(Event(region, change=sign * step))
    return out


def _focal_events(rng, ploidy: int, p_amp=0.6, p_homdel=0.3) -> list[Event]:
    out = []
    n_amp = int(rng.random() < p_amp) + int(rng.random() < p_amp / 3)
    for g in rng.choice(FOCAL_AMP_GENES, size=n_amp, replace=False):
        out.append(Event(str(g), cn=int(max(2 * ploidy, ploidy + 4) + rng.integers(0, 5)), width=int(rng.integers(1, 4)) * 1_000_000))
    if rng.random() < p_homdel:
        out.append(Event(str(rng.choice(HOMDEL_GENES)), cn=0, width=1_000_000))
    return out


def karyotype_ok(cn: np.ndarray, ploidy: int, genome: Genome, focal_zero: np.ndarray | None = None) -> bool:
    """Base ploidy is the mode (>= MIN_BASE_FRACTION of usable autosomes), single-copy
    changes exist, and no long 0-copy stretch outside planted focal deletions."""
    b = genome.bins
    auto = (b.use & b.chrom.isin(AUTOSOMES)).to_numpy()
    w = np.where(auto, (b.end - b.start).to_numpy(float), 0.0)
    if modal_cn(cn, w) != ploidy:
        return False
    if w[cn == ploidy].sum() < MIN_BASE_FRACTION * w.sum():
        return False
    if ploidy > 1 and not (auto & (np.abs(cn - ploidy) == 1)).any():
        return False
    zero = (cn == 0) & auto
    if focal_zero is not None:
        zero &= ~focal_zero
    if zero.any() and genome.bin_size and zero.sum() * genome.bin_size > MAX_ZERO_RUN:
        return False
    return True


def _clone(rng, genome, arms, patient: Patient, name: str, ploidy: int, focal: bool,
           post_wgd_events: tuple[int, int] = (3, 5)) -> Clone:
    for _ in range(200):
        wgd = ploidy in (4, 6) and rng.random() < 0.85
        base = ploidy // 2 if wgd else ploidy
        if wgd:
            pre = _random_events(rng, genome, arms, int(rng.integers(1, 4)), base)
            post = _random_events(rng, genome, arms, int(rng.integers(post_wgd_events[0], post_wgd_events[1] + 1)), ploidy)
        else:
            pre, post = [], _random_events(rng, genome, arms, int(rng.integers(4, 8)), ploidy, allow_double=True)
        if focal:
            post += _focal_events(rng, ploidy)
        c = Clone(name, ploidy=ploidy, wgd=wgd, pre_wgd=pre, events=post)
        cn = clone_profile(c, patient, genome)
        focal_zero = _focal_zero_mask(c.events, genome)
        if karyotype_ok(cn, ploidy, genome, focal_zero):
            return c
    raise RuntimeError(f"could not draw a {ploidy}n karyotype with the constraints; loosen them")


def _focal_zero_mask(events, genome) -> np.ndarray:
    from .karyotype import region_mask

    m = np.zeros(genome.n_bins, bool)
    for e in events:
        if e.cn == 0:
            m |= region_mask(genome, e)
    return m


def random_design(
    n_cells: int = 40,
    seed: int = 0,
    *,
    genome: Genome | None = None,
    n_patients: int | None = None,
    ploidies: tuple[int, ...] = (2, 3, 4, 5, 6),
    clones_per_patient: tuple[int, int] = (1, 3),
    normal_like: float = 0.08,
    pools_per_patient: int = 1,
    pool_sizes: tuple[int, ...] = (2, 5, 10),
    controls: bool = True,
    biopsy: bool = False,
    sparse: int = 0,
    sparse_reads: int = 50_000,
    focal: bool = True,
    private_events: tuple[int, int] = (0, 2),
    post_wgd_events: tuple[int, int] = (3, 5),
    bias: Bias | None = None,
) -> Design:
    """A random cohort of ``n_cells`` single CTCs (tumour and normal-like) plus pools and
    controls; deterministic given ``seed``.

    ``post_wgd_events``: range of arm-level changes a doubled clone gains after its doubling
    (few or none: read depth alone cannot tell such a 4n clone from a 2n one).

    ``genome`` is only used to place sub-arm events and to check karyotypes (default hg19
    500 kb); the design itself is build-independent.
    """
    if n_cells < 1:
        from ..errors import InputError

        raise InputError("random_design needs at least one cell (n_cells >= 1)")
    rng = np.random.default_rng([int(seed), 0x444553])
    genome = genome or load_genome("hg19", 500_000)
    arms = _arms(genome)
    n_patients = n_patients or max(1, int(round(n_cells / 20)))
    n_patients = min(n_patients, n_cells)
    per_patient = np.full(n_patients, n_cells // n_patients)
    per_patient[: n_cells % n_patients] += 1
    n_normal_like = int(round(normal_like * n_cells))
    normal_patients = rng.integers(0, n_patients, n_normal_like)
    patients = []
    sparse_left = int(sparse)
    for i in range(n_patients):
        pid = f"P{i + 1}"
        sex = "M" if rng.random() < 0.5 else "F"
        patient = Patient(id=pid, sex=sex)
        patient.trunk = _random_events(rng, genome, arms, int(rng.integers(2, 4)), 2)
        n_cl = int(rng.integers(clones_per_patient[0], clones_per_patient[1] + 1))
        n_here = int(per_patient[i])
        n_norm = int((normal_patients == i).sum())
        n_tum = max(n_here - n_norm, 1)
        n_cl = max(1, min(n_cl, n_tum // 2 if n_tum >= 2 else 1))
        for k in range(n_cl):
            ploidy = int(rng.choice(ploidies))
            patient.clones.append(_clone(rng, genome, arms, patient, chr(ord("A") + k), ploidy, focal, post_wgd_events))
        main_pheno = "ALK+/CK-" if rng.random() < 0.4 else "ALK-/CK+"
        # cells per clone: at least 2 where possible, the rest at random
        alloc = np.ones(n_cl, int) * min(2, n_tum // n_cl)
        rest = n_tum - alloc.sum()
        if rest > 0:
            alloc += rng.multinomial(rest, rng.dirichlet(np.ones(n_cl) * 2))
        j = 0
        masks: dict = {}
        for k, c in enumerate(patient.clones):
            base_cn = clone_profile(c, patient, genome, masks)
            for _ in range(int(alloc[k])):
                j += 1
                private = []
                lo, hi = private_events
                for _ in range(200):
                    private = [Event(_sub_arm(genome, arms[rng.integers(len(arms))], rng, 5, 20),
                                     change=int(rng.choice([-1, 1])))
                               for _ in range(int(rng.integers(lo, hi + 1)))]
                    if karyotype_ok(apply_events(base_cn, private, genome, masks), c.ploidy, genome,
                                    _focal_zero_mask(c.events, genome)):
                        break
                else:
                    private = []
                pheno = main_pheno if rng.random() > 0.1 else "ALK+/CK+"
                reads = None
                if sparse_left > 0:
                    reads, sparse_left = int(sparse_reads), sparse_left - 1
                patient.samples.append(Sample(f"SIM-{pid}_CTC{j:02d}", clone=c.name, phenotype=pheno,
                                              gii=float(rng.choice([2, 3, 4], p=[0.1, 0.3, 0.6])),
                                              reads=reads, events=private))
        for _ in range(n_norm):
            j += 1
            patient.samples.append(Sample(f"SIM-{pid}_CTC{j:02d}", clone=NORMAL_CLONE, phenotype="ALK-/CK+",
                                          gii=float(rng.choice([3, 4]))))
        for q in range(pools_per_patient):
            size = int(rng.choice(pool_sizes))
            names = [c.name for c in patient.clones]
            comp = {names[0] if len(names) == 1 else str(rng.choice(names)): size}
            if size >= 5 and len(names) > 1 and rng.random() < 0.5:
                major = next(iter(comp))
                other = str(rng.choice([n for n in names if n != major]))
                comp = {major: size - 1, other: 1}
            patient.samples.append(Sample(f"SIM-{pid}_POOL{q + 1}", sample_type="ctc_pool", composition=comp,
                                          pool_size=size, phenotype=main_pheno, gii=4.0))
        if controls:
            patient.samples.append(Sample(f"SIM-{pid}_WBC", sample_type="wbc", composition={NORMAL_CLONE: 200},
                                          pool_size=200, phenotype="CD45+", gii=4.0))
            patient.samples.append(Sample(f"SIM-{pid}_GERMLINE", sample_type="germline",
                                          composition={NORMAL_CLONE: 1}, pool_size=1, isolation="blood DNA"))
        if biopsy and i == 0:
            comp = {c.name: round(0.7 / len(patient.clones), 3) for c in patient.clones}
            comp[NORMAL_CLONE] = 0.3
            patient.samples.append(Sample(f"SIM-{pid}_BIOPSY", sample_type="biopsy", composition=comp,
                                          pool_size=1, isolation="tissue"))
        patients.append(patient)
    return Design(patients=patients, bias=bias or Bias(), name=f"random(n_cells={n_cells}, seed={seed})")
