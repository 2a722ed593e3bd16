"""BAM writer: per-bin counts read back with pysam equal the simulated counts."""
from __future__ import annotations

import numpy as np
import pysam
import pytest

from ctcscope.errors import InputError
from ctcscope.genome import load_genome
from ctcscope.simulate import Clone, Design, Event, Patient, Sample, simulate_cohort, write_bams
from ctcscope.simulate.bam import DEFAULT_EXTRAS


@pytest.fixture(scope="module")
def small_sim():
    g = load_genome("hg19", 500_000)
    d = Design(patients=[Patient("P1", sex="M", clones=[Clone("A", ploidy=3, events=[Event("MET", cn=9), Event("8q", change=1)])],
                                 samples=[Sample("SIM-P1_CTC01", clone="A", reads=120_000),
                                          Sample("SIM-P1 odd id/2", clone="normal", reads=60_000),
                                          Sample("SIM-P1_WBC", sample_type="wbc", composition={"normal": 200}, reads=80_000)])])
    return simulate_cohort(d, g, seed=7)


def reference_counts(path, genome, min_mapq=30, read1_only=False):
    """A plain pysam loop: the obvious way to count, independent of the writer."""
    idx = {c: i for i, c in enumerate(genome.chrom_sizes.index)}
    chroms, starts = [], []
    seen = {"total": 0, "unmapped": 0, "secondary": 0, "supplementary": 0, "duplicate": 0, "qcfail": 0, "low_mapq": 0}
    with pysam.AlignmentFile(str(path)) as bam:
        for r in bam.fetch(until_eof=True):
            seen["total"] += 1
            if r.is_unmapped:
                seen["unmapped"] += 1
            elif r.is_secondary:
                seen["secondary"] += 1
            elif r.is_supplementary:
                seen["supplementary"] += 1
            elif r.is_duplicate:
                seen["duplicate"] += 1
            elif r.is_qcfail:
                seen["qcfail"] += 1
            elif r.mapping_quality < min_mapq:
                seen["low_mapq"] += 1
            elif read1_only and r.is_paired and not r.is_read1:
                continue
            else:
                c = r.reference_name.removeprefix("chr")
                chroms.append("MT" if c == "M" else c)
                starts.append(r.reference_start)
    assert all(c in idx for c in chroms)
    b = genome.bin_index(np.array(chroms), np.array(starts))
    assert (b >= 0).all()
    return np.bincount(b, minlength=genome.n_bins), seen


def test_single_end_counts_equal_simulated(small_sim, tmp_path):
    g = small_sim.genome
    tab = write_bams(small_sim, tmp_path / "bams")
    assert len(tab) == 3
    for i, row in tab.iterrows():
        bam = row.bam
        assert (tmp_path / "bams" / (bam.split("/")[-1] + ".bai")).exists()
        counts, seen = reference_counts(bam, g)
        np.testing.assert_array_equal(counts, small_sim.counts[i])
        assert row.counted == small_sim.counts[i].sum()
        # every filtered kind is present and tallied exactly
        for kind in DEFAULT_EXTRAS:
            assert row[kind] > 0 and seen[kind] == row[kind], kind
        assert seen["total"] == row.records_total
    # the odd sample id became a safe file name, the header keeps the real id
    with pysam.AlignmentFile(tab.bam[1]) as b:
        assert b.header.to_dict()["RG"][0]["SM"] == "SIM-P1 odd id/2"
        assert b.references[0] == "chr1" and b.lengths[0] == 249_250_621
        assert b.header.to_dict()["HD"]["SO"] == "coordinate"
        assert any("SIMULATED" in c for c in b.header.to_dict().get("CO", []))
    # samtools agrees (the common command line for a quick count)
    n = int(pysam.view("-c", "-q", "30", "-F", "0xF04", tab.bam[0]).strip())
    assert n == small_sim.counts[0].sum()


def test_paired_end_without_prefix(small_sim, tmp_path):
    g = small_sim.genome
    tab = write_bams(small_sim, tmp_path, samples=["SIM-P1_CTC01"], paired=True, chr_prefix=False)
    counts, seen = reference_counts(tab.bam[0], g, read1_only=True)
    np.testing.assert_array_equal(counts, small_sim.counts[0])
    with pysam.AlignmentFile(tab.bam[0]) as b:
        assert b.references[0] == "1"
        reads = [r for r in b.fetch("8") if not (r.is_secondary or r.is_supplementary)]
        r1 = {r.query_name: r for r in reads if r.is_read1}
        r2 = {r.query_name: r for r in reads if r.is_read2}
        both = set(r1) & set(r2)
        assert len(both) > 100
        for name in list(both)[:200]:  # mates agree with each other
            a, c = r1[name], r2[name]
            assert a.next_reference_start == c.reference_start and c.next_reference_start == a.reference_start
            assert a.template_length == -c.template_length != 0
            assert a.is_reverse != c.is_reverse
    assert tab.counted_records[0] == 2 * tab.counted[0]


def test_reads_stack_at_shared_fragment_ends(small_sim, tmp_path):
    """Ampli1-like: read starts fall on the run's fragment ends, shared between cells."""
    tab = write_bams(small_sim, tmp_path, samples=["SIM-P1_CTC01", "SIM-P1_WBC"], extras={})
    starts = []
    for bam in tab.bam:
        with pysam.AlignmentFile(bam) as b:
            starts.append({(r.reference_name, r.reference_start) for r in b.fetch("chr1")})
    run = small_sim.run
    chr1 = small_sim.genome.bins.chrom.to_numpy()[run.site_bin] == "1"
    ends = set(run.site_start[chr1]) | set(run.site_start[chr1] + run.site_len[chr1] - np.minimum(run.site_len[chr1], 150))
    assert all(p in ends for _, p in starts[0])
    shared = len(starts[0] & starts[1]) / min(len(starts[0]), len(starts[1]))
    # positions drawn anywhere on chr1 would share a fraction ~ max(n1, n2) / 249 Mb
    uniform = max(len(starts[0]), len(starts[1])) / 249_250_621
    assert shared > 100 * uniform and shared > 0.01
    with pysam.AlignmentFile(tab.bam[0]) as b:
        pos = np.array([r.reference_start for r in b.fetch("chr1")])
    _, mult = np.unique(pos, return_counts=True)
    assert mult.max() >= 3  # stacks within a cell (heavy-tailed fragment efficiency)


def test_same_seed_same_bam_reads_in_any_process(small_sim, tmp_path):
    ids = ["SIM-P1_WBC", "SIM-P1_CTC01"]
    a = write_bams(small_sim, tmp_path / "a", samples=ids)
    b = write_bams(small_sim, tmp_path / "b", samples=ids, workers=2)  # fragments rebuilt in the workers

    def dump(p):
        with pysam.AlignmentFile(p) as f:
            return [r.to_string() for r in f.fetch(until_eof=True)]

    for x, y in zip(a.bam, b.bam):
        assert dump(x) == dump(y)


def test_hg38_header(tmp_path):
    from ctcscope.genome import guess_build

    g = load_genome("hg38", 1_000_000)
    sim = simulate_cohort(Design(patients=[Patient("P", samples=[Sample("SIM-X", clone="normal", reads=20_000)])]), g, seed=1)
    tab = write_bams(sim, tmp_path)
    with pysam.AlignmentFile(tab.bam[0]) as b:
        lengths = dict(zip(b.references, b.lengths))
    assert lengths["chr1"] == 248_956_422 and guess_build(lengths) == "hg38"
    np.testing.assert_array_equal(reference_counts(tab.bam[0], g)[0], sim.counts[0])


def test_bam_bad_inputs(small_sim, tmp_path):
    with pytest.raises(InputError, match="not in the simulated cohort"):
        write_bams(small_sim, tmp_path, samples=["nope"])
    with pytest.raises(InputError, match="read length"):
        write_bams(small_sim, tmp_path, read_length=5)
    with pytest.raises(InputError, match="unknown extra record kind"):
        write_bams(small_sim, tmp_path, extras={"chimeric": 0.1})
    with pytest.raises(InputError, match="genome the cohort was simulated on"):
        write_bams(small_sim, tmp_path, genome=load_genome("hg38", 500_000))
    assert not list(tmp_path.glob("*.bam"))


def test_package_counter_agrees(small_sim, tmp_path):
    """ctcscope's own BAM counter (ctcscope.io) reads back exactly the simulated counts,
    single- and paired-end, and sees every record."""
    from ctcscope.io import count_bam

    for paired in (False, True):
        tab = write_bams(small_sim, tmp_path / str(paired), paired=paired, chr_prefix=not paired)
        for i, row in tab.iterrows():
            got = count_bam(row.bam, small_sim.genome, checksum=False)
            np.testing.assert_array_equal(got.counts, small_sim.counts[i])
            assert got.reads_total == row.records_total and got.paired == paired
