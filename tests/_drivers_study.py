"""A small cohort built like the study's recurrent findings (Oulhen et al. 2021, Results),
with known copy number, for the summaries and stage tests.

- P46-like (crizotinib): 11 epithelial CTCs; chr2p gain (ALK, MYCN) in 10, 6p gain (CCND3)
  in all 11, distal 17q gain (SEPT9) in 9; ERBB2 focal gain in 3; plus a flat normal-like CTC, a
  CTC that failed QC (with an ERBB2 amplification that must not be counted) and a
  leukocyte control.
- P49-like (crizotinib): 13 CTCs in two clones; clone A (CTCs 1, 3, 6, 8, 9, 11, 12): chr8
  gain (FGFR1, MYC) and chr13 loss (RB1), 17p loss (TP53) in four of them; clone B: CDKN2A
  homozygous deletion.
- P45-like (lorlatinib): 7 CTCs and a biopsy; CDK4 focal gain in CTCs 1, 2, 4, 6, 7 and the
  biopsy; CTC 6 with homozygous deletions of BAP1, FANCD2 and MLH1 (3p); ERBB2 gain in 2.
- P41-like (lorlatinib): 4 ALK+/CK- CTCs at 3n, MET amplification in 2.
"""
from __future__ import annotations

from _drivers_cohort import Sample, arm_event, build_adata, chrom_event, gene_event


def study_samples(genome) -> list[Sample]:
    s: list[Sample] = []
    # P46-like
    for i in range(1, 12):
        ev = [arm_event(genome, "6", "p", 3)]
        if i != 5:
            ev.append(arm_event(genome, "2", "p", 3))
        if i not in (2, 7):   # distal 17q (17q23-qter, with SEPT9; ERBB2 at 17q12 stays out)
            ev.append(("17", 60_000_000, int(genome.chrom_sizes["17"]), 3))
        if i in (1, 3, 9):
            ev.append(gene_event(genome, "ERBB2", 4, 0.6e6, 0.8e6))
        s.append(Sample(f"P46_CTC{i:02d}", patient="P46", treatment_group="crizotinib", events=ev))
    s.append(Sample("P46_CTC12", patient="P46", treatment_group="crizotinib", normal_like=True))
    s.append(Sample("P46_CTC13", patient="P46", treatment_group="crizotinib", qc_pass=False,
                    events=[gene_event(genome, "ERBB2", 9)]))
    s.append(Sample("P46_WBC", patient="P46", treatment_group="crizotinib", sample_type="wbc", phenotype="CD45+"))
    # P49-like
    clone_a = {1, 3, 6, 8, 9, 11, 12}
    for i in range(1, 14):
        if i in clone_a:
            ev = [chrom_event(genome, "8", 3), chrom_event(genome, "13", 1)]
            if i in (1, 3, 6, 8):
                ev.append(arm_event(genome, "17", "p", 1))
        else:
            ev = [gene_event(genome, "CDKN2A", 0, 0.5e6, 0.7e6), arm_event(genome, "5", "q", 3)]
        s.append(Sample(f"P49_CTC{i:02d}", patient="P49", treatment_group="crizotinib", events=ev))
    # P45-like
    for i in range(1, 8):
        ev = []
        if i in (1, 2, 4, 6, 7):
            ev.append(gene_event(genome, "CDK4", 4, 0.7e6, 0.9e6))
        if i == 6:
            ev += [gene_event(genome, g, 0, 0.6e6, 0.6e6) for g in ("BAP1", "FANCD2", "MLH1")]
        if i in (2, 4):
            ev.append(gene_event(genome, "ERBB2", 4, 0.6e6, 0.8e6))
        s.append(Sample(f"P45_CTC{i:02d}", patient="P45", treatment_group="lorlatinib", events=ev,
                        phenotype="ALK+/CK+" if i == 3 else "ALK-/CK+"))
    s.append(Sample("P45_biopsy", patient="P45", treatment_group="lorlatinib", sample_type="biopsy", phenotype="",
                    events=[gene_event(genome, "CDK4", 3, 0.7e6, 0.9e6)]))
    # P41-like
    for i in range(1, 5):
        ev = [gene_event(genome, "MET", 12, 0.8e6, 1.2e6)] if i in (1, 3) else []
        s.append(Sample(f"P41_CTC{i:02d}", patient="P41", treatment_group="lorlatinib", ploidy=3,
                        phenotype="ALK+/CK-", events=ev))
    return s


def study_adata(genome, **kw):
    return build_adata(genome, study_samples(genome), **kw)
