"""BAM counting: exact against an independent read-by-read reference, every filter rule,
paired-end fragments, chr/no-chr naming, and one-sentence refusals of bad files."""
from __future__ import annotations

import gzip
import re
import hashlib
import shutil

import numpy as np
import pysam
import pytest

from _bamutil import HG19, HG38, Read, header, random_reads, reference_counts, write_bam
from ctcscope.errors import GenomeMismatchError, InputError
from ctcscope.genome import load_genome
from ctcscope.io.bam import FILTERS, count_bam


def one_sentence(msg: str) -> bool:
    """No line break and no full stop followed by a new sentence."""
    return "\n" not in msg and not re.search(r"\.\s+[A-Z]", msg) and len(msg) < 400


@pytest.fixture(scope="module")
def hg19():
    return load_genome("hg19", 500_000)


def _bin(g, chrom, pos):
    return int(g.bin_index(np.array([chrom]), np.array([pos]))[0])


def test_every_filter_rule_single_end(tmp_path, hg19):
    contigs = {**HG19, "MT": 16_571, "GL000192.1": 547_496}
    names = list(contigs)
    reads = [
        Read(0, 999_999),                  # kept: last base of bin 1:500000-1000000 (0-based)
        Read(0, 1_000_000, flag=16),       # kept: first base of the next bin, reverse strand
        Read(0, 1_000_001, mapq=30),       # kept: MAPQ exactly 30
        Read(0, 1_000_002, mapq=29),       # low_mapq
        Read(0, 1_000_003, flag=0x4),      # unmapped but placed
        Read(0, 1_000_004, flag=0x100),    # secondary
        Read(0, 1_000_005, flag=0x800),    # supplementary
        Read(0, 1_000_006, flag=0x200),    # QC fail
        Read(0, 1_000_007, flag=0x400),    # duplicate
        Read(0, 1_000_008, flag=0x500, mapq=0),  # secondary + duplicate: tallied as secondary
        Read(1, 5_000_000),                # kept
        Read(3, 100),                      # chrM: off_bins
        Read(4, 1000),                     # unplaced contig: off_bins
        Read(-1, -1, flag=0x4, mapq=0),    # unmapped, unplaced (last)
    ]
    bam = write_bam(tmp_path / "c.bam", header(contigs, "chr"), reads)
    r = count_bam(bam, hg19)
    assert r.reads_total == len(reads)
    assert r.tallies == {"unmapped": 2, "secondary": 2, "supplementary": 1, "qc_fail": 1, "duplicate": 1, "mate": 0,
                         "low_mapq": 1, "off_bins": 2, "kept": 4}
    assert sum(r.tallies.values()) == r.reads_total
    expected = np.zeros(hg19.n_bins, np.int32)
    for c, p in (("1", 999_999), ("1", 1_000_000), ("1", 1_000_001), ("2", 5_000_000)):
        expected[_bin(hg19, c, p)] += 1
    np.testing.assert_array_equal(r.counts, expected)
    assert r.counts.dtype == np.int32
    assert r.counts[_bin(hg19, "1", 999_999)] == 1 and r.counts[_bin(hg19, "1", 1_000_000)] == 2
    assert not r.paired and r.sorted
    np.testing.assert_array_equal(r.counts, reference_counts(reads, names, hg19))
    # the documented MAPQ threshold moves reads between kept and low_mapq
    r0 = count_bam(bam, hg19, min_mapq=0)
    assert r0.reads_kept == 5 and r0.filtered["low_mapq"] == 0


def test_paired_end_counts_each_fragment_once(tmp_path, hg19):
    P, R1, R2, MU, U = 0x1, 0x40, 0x80, 0x8, 0x4
    reads = [
        # fragment A: both mapped → counted at read 1 (position 2,000,000)
        Read(0, 2_000_000, P | R1 | 0x20, mate_ref=0, mate_pos=2_600_000),
        # fragment B: read 1 unmapped (placed at its mate), read 2 mapped → counted at read 2
        Read(0, 3_000_000, P | R1 | U, mapq=0, mate_ref=0, mate_pos=3_000_000),
        Read(0, 3_000_000, P | R2 | MU, mate_ref=0, mate_pos=3_000_000),
        # fragment C: read 2 unmapped → counted at read 1
        Read(0, 4_000_000, P | R1 | MU, mate_ref=0, mate_pos=4_000_000),
        Read(0, 4_000_000, P | R2 | U, mapq=0, mate_ref=0, mate_pos=4_000_000),
        # fragment D: read 1 with low MAPQ → the fragment is not counted (read 2 does not stand in)
        Read(0, 5_000_000, P | R1, mapq=3, mate_ref=0, mate_pos=5_200_000),
        # read 2 of A, read 2 of D
        Read(0, 2_600_000, P | R2 | 0x10, mate_ref=0, mate_pos=2_000_000),
        Read(0, 5_200_000, P | R2, mate_ref=0, mate_pos=5_000_000),
        # fragment E: both unmapped
        Read(-1, -1, P | R1 | U | MU, mapq=0),
        Read(-1, -1, P | R2 | U | MU, mapq=0),
    ]
    reads = sorted(reads[:-2], key=lambda r: r.pos) + reads[-2:]
    bam = write_bam(tmp_path / "pe.bam", header(HG19, "chr"), reads)
    r = count_bam(bam, hg19)
    assert r.paired
    assert r.reads_kept == 3
    assert r.filtered["mate"] == 2 and r.filtered["unmapped"] == 4 and r.filtered["low_mapq"] == 1
    for p in (2_000_000, 3_000_000, 4_000_000):
        assert r.counts[_bin(hg19, "1", p)] == 1
    assert r.counts[_bin(hg19, "1", 5_000_000)] == 0
    np.testing.assert_array_equal(r.counts, reference_counts(reads, list(HG19), hg19))


@pytest.mark.parametrize("sort", [True, False])
def test_random_bam_matches_reference_across_blocks(tmp_path, hg19, sort):
    """20,000 reads span many BGZF blocks: records cut across block and batch edges."""
    reads = random_reads(20_000, HG19, seed=7, sort=sort)
    bam = write_bam(tmp_path / "r.bam", header(HG19, "", "coordinate" if sort else "unsorted"), reads)
    exp = reference_counts(reads, list(HG19), hg19)
    r1 = count_bam(bam, hg19, threads=1)
    r2 = count_bam(bam, hg19, threads=2, checksum=False)
    np.testing.assert_array_equal(r1.counts, exp)
    np.testing.assert_array_equal(r2.counts, exp)
    assert r1.sorted is sort
    assert r1.sha256 == hashlib.sha256(open(bam, "rb").read()).hexdigest()
    assert r2.sha256 == ""
    # samtools' own filter (-q 30 -F 0xF04) agrees with kept + off_bins for single-end data
    n = int(pysam.view("-c", "-q", "30", "-F", "0xF04", bam).strip())
    assert n == r1.reads_kept + r1.filtered["off_bins"]


def test_chr_prefix_and_plain_names_count_the_same(tmp_path, hg19):
    reads = random_reads(3000, HG19, seed=3)
    a = count_bam(write_bam(tmp_path / "chr.bam", header(HG19, "chr"), reads), hg19)
    b = count_bam(write_bam(tmp_path / "plain.bam", header(HG19, ""), reads), hg19)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.reads_kept == b.reads_kept > 0
    assert a.contigs[0] == "chr1" and b.contigs[0] == "1"


def test_empty_bam_and_no_read_passing_are_not_errors(tmp_path, hg19):
    empty = write_bam(tmp_path / "empty.bam", header(HG19, "chr"), [])
    r = count_bam(empty, hg19)
    assert r.reads_total == 0 and r.counts.sum() == 0 and r.counts.shape == (hg19.n_bins,)
    low = write_bam(tmp_path / "low.bam", header(HG19, "chr"), [Read(0, 10_000_000, mapq=5)] * 3)
    r = count_bam(low, hg19)
    assert r.reads_total == 3 and r.reads_kept == 0 and r.filtered["low_mapq"] == 3


def test_wrong_build_is_named(tmp_path, hg19):
    bam = write_bam(tmp_path / "cell1.bam", header(HG38, "chr"), [Read(0, 100)])
    with pytest.raises(GenomeMismatchError) as e:
        count_bam(bam, hg19)
    msg = str(e.value)
    assert msg.startswith("cell1.bam looks aligned to hg38 (chr1 = 248,956,422 bp) but genome hg19 was chosen")
    assert "--genome hg38" in msg and "\n" not in msg
    # the same BAM fits hg38
    assert count_bam(bam, load_genome("hg38", 500_000)).reads_kept == 1


@pytest.mark.parametrize("kind, expected", [
    ("text", "is a SAM text file, not a BAM"),
    ("random", "is not a BAM file"),
    ("gzip", "is gzip- but not BGZF-compressed"),
    ("truncated", "is truncated"),
    ("no_eof", "end-of-file marker is missing"),
    ("empty_file", "is an empty file (0 bytes)"),
    ("cram", "is a CRAM file"),
    ("unaligned", "has no reference sequences in its header"),
    ("other_names", "has no chromosome in common with genome hg19"),
    ("missing", "does not exist"),
])
def test_bad_files_get_one_sentence(tmp_path, hg19, kind, expected):
    good = write_bam(tmp_path / "good.bam", header(HG19, "chr"), random_reads(5000, HG19, seed=1))
    p = tmp_path / f"{kind}.bam"
    raw = open(good, "rb").read()
    if kind == "text":
        p.write_text("@HD\tVN:1.6\nr1\t0\tchr1\t100\t60\t10M\t*\t0\t0\tACGTACGTAC\t*\n")
    elif kind == "random":
        p.write_bytes(b"this is not a bam" * 10)
    elif kind == "gzip":
        p.write_bytes(gzip.compress(b"BAM\x01" + b"\0" * 100))
    elif kind == "truncated":
        p.write_bytes(raw[: len(raw) // 2])
    elif kind == "no_eof":
        p.write_bytes(raw[:-28])
    elif kind == "empty_file":
        p.write_bytes(b"")
    elif kind == "cram":
        p.write_bytes(b"CRAM\x03\x00" + b"\0" * 40)
    elif kind == "unaligned":
        write_bam(p, {"HD": {"VN": "1.6", "SO": "unsorted"}}, [Read(-1, -1, 0x4, 0)])
    elif kind == "other_names":
        write_bam(p, header({"NC_000001.11": 248_956_422}), [Read(0, 10)])
    with pytest.raises(InputError) as e:
        count_bam(p, hg19)
    msg = str(e.value)
    assert expected in msg, msg
    assert one_sentence(msg), msg


def test_filters_constant_matches_tally_order():
    assert FILTERS[-1] == "kept" and len(set(FILTERS)) == len(FILTERS)


def test_counts_a_copied_bam_identically(tmp_path, hg19):
    """Same bytes → same counts and checksum (reproducibility)."""
    bam = write_bam(tmp_path / "a.bam", header(HG19, "chr"), random_reads(2000, HG19, seed=11))
    shutil.copy(bam, tmp_path / "b.bam")
    a, b = count_bam(bam, hg19), count_bam(tmp_path / "b.bam", hg19)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.sha256 == b.sha256
