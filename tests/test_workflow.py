"""The run workflow: counting through the executor (local pool and Dask), outputs,
provenance, failed runs, and the command line's answers to bad input."""
from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import ctcscope.workflow as wf
from _bamutil import HG19, HG38, Read, header, random_reads, reference_counts, write_bam
from ctcscope.cli import app
from ctcscope.errors import OutputError
from ctcscope.genome import load_genome
from ctcscope.io.export import read_cohort

runner = CliRunner()


def standin_call_copy_number(adata, workers=None, scheduler=None, **params):
    """Test stand-in for ctcscope.cna.call_copy_number: ratio to the cell mean, one segment
    per chromosome, CN = round(2 × ratio).  Enough to exercise the outputs."""
    x = adata.layers["counts"].astype(float)
    use = adata.var.use.to_numpy() & adata.var.chrom.isin(list(HG19)).to_numpy()
    mean = x[:, use].mean(axis=1, keepdims=True)
    ratio = np.where(use, x / np.where(mean > 0, mean, 1), np.nan).astype(np.float32)
    seg = np.full_like(ratio, np.nan)
    rows = []
    for i, sid in enumerate(adata.obs_names):
        for c in HG19:
            k = np.flatnonzero(use & (adata.var.chrom.to_numpy() == c))
            m = float(np.mean(ratio[i, k]))
            seg[i, k] = m
            rows.append((sid, c, int(adata.var.start.iloc[k[0]]), int(adata.var.end.iloc[k[-1]]), len(k), m,
                         float(round(2 * m))))
    adata.layers["ratio"], adata.layers["segment"] = ratio, seg
    adata.layers["cn"] = np.round(2 * seg).astype(np.float32)
    adata.obs["ploidy"] = 2
    adata.obs["qc_pass"] = adata.obs["reads"] > 0
    adata.uns["segments"] = pd.DataFrame(rows, columns=["sample_id", "chrom", "start", "end", "n_bins", "seg_mean", "cn"])
    return adata


@pytest.fixture
def standin(monkeypatch):
    monkeypatch.setattr(wf, "_call_copy_number", standin_call_copy_number)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Four cells: three with reads on chr1-3 (chr-prefixed or not), one with no passing read."""
    d = tmp_path_factory.mktemp("cohort")
    (d / "bams").mkdir()
    truth = {}
    for i, sid in enumerate(["P1_CTC1", "P1_CTC2", "P1_WBC"]):
        reads = random_reads(4000 + 1000 * i, HG19, seed=100 + i)
        write_bam(d / "bams" / f"{sid}.bam", header(HG19, "chr" if i % 2 == 0 else ""), reads)
        truth[sid] = reads
    write_bam(d / "bams" / "P1_CTC3.bam", header(HG19, "chr"), [Read(0, 5_000_000, mapq=2)] * 5)
    (d / "samples.csv").write_text(
        "sample_id,patient,sample_type,pool_size,bam,phenotype\n"
        "P1_CTC1,P1,ctc,,bams/P1_CTC1.bam,ALK+/CK-\n"
        "P1_CTC2,P1,ctc,1,bams/P1_CTC2.bam,ALK-/CK+\n"
        "P1_WBC,P1,wbc,200,bams/P1_WBC.bam,CD45+\n"
        "P1_CTC3,P1,ctc,,bams/P1_CTC3.bam,\n"
    )
    return d, truth


@pytest.fixture(scope="module")
def hg19():
    return load_genome("hg19", 500_000)


def test_count_samples_local_pool_is_exact(cohort, hg19):
    d, truth = cohort
    a1 = wf.count_samples(d / "samples.csv", hg19, workers=1, quiet=True)
    a2 = wf.count_samples(d / "samples.csv", hg19, workers=2, quiet=True)
    assert a1.obs_names.tolist() == ["P1_CTC1", "P1_CTC2", "P1_WBC", "P1_CTC3"]
    np.testing.assert_array_equal(a1.layers["counts"], a2.layers["counts"])
    for i, sid in enumerate(truth):
        np.testing.assert_array_equal(a1.layers["counts"][i], reference_counts(truth[sid], list(HG19), hg19))
    assert a1.layers["counts"].dtype == np.int32 and a1.n_vars == hg19.n_bins
    assert a1.obs.reads.tolist() == a1.layers["counts"].sum(axis=1).tolist()
    assert a1.obs.reads_total.tolist()[:3] == [4000, 5000, 6000]
    assert a1.obs.loc["P1_WBC", "pool_size"] == 200 and a1.obs.loc["P1_CTC1", "phenotype"] == "ALK+/CK-"
    assert a1.obs.loc["P1_CTC3", "reads"] == 0
    assert any(w.startswith("P1_CTC3: none of its 5 reads passed the filters (most: MAPQ below 30)")
               for w in a1.uns["warnings"])
    rf = a1.uns["read_filters"]
    assert (rf.drop(columns="sample_id").sum(axis=1).to_numpy() == a1.obs.reads_total.to_numpy()).all()
    bam = str(d / "bams" / "P1_CTC1.bam")
    sums = a1.uns["bam_sha256"].set_index("bam").sha256
    assert sums[bam] == hashlib.sha256(open(bam, "rb").read()).hexdigest()


def test_dask_localcluster_gives_identical_counts(cohort, hg19, monkeypatch):
    from distributed import Client, LocalCluster

    import ctcscope

    # worker processes must import ctcscope from this source tree
    src = str(__import__("pathlib").Path(ctcscope.__file__).parents[1])
    monkeypatch.setenv("PYTHONPATH", src)
    d, _ = cohort
    local = wf.count_samples(d / "samples.csv", hg19, workers=2, quiet=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dask = wf.count_samples(d / "samples.csv", hg19, scheduler=client, quiet=True)
        by_address = wf.count_samples(d / "samples.csv", hg19, scheduler=cluster.scheduler_address, quiet=True)
    for other in (dask, by_address):
        np.testing.assert_array_equal(local.layers["counts"], other.layers["counts"])
        pd.testing.assert_frame_equal(local.obs, other.obs)
        pd.testing.assert_frame_equal(local.uns["bam_sha256"], other.uns["bam_sha256"])


def test_run_writes_complete_outputs(cohort, hg19, tmp_path, standin):
    d, _ = cohort
    out = tmp_path / "out"
    a = wf.run_copy_number(d / "samples.csv", hg19, out, workers=1, quiet=True)
    names = sorted(p.name for p in out.iterdir())
    assert names == [".ctcscope", "cells.tsv", "cohort.h5ad", "run.json", "segments.seg"]
    # run.json is written last
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert mtimes["run.json"] >= max(mtimes[n] for n in ("cells.tsv", "cohort.h5ad", "segments.seg"))
    run = json.loads((out / "run.json").read_text())
    rec = run["steps"]["copy_number"]
    assert rec["parameters"]["genome"]["build"] == "hg19" and rec["parameters"]["min_mapq"] == 30
    shas = {i["path"]: i["sha256"] for i in rec["inputs"]}
    bam = str(d / "bams" / "P1_WBC.bam")
    assert shas[bam] == hashlib.sha256(open(bam, "rb").read()).hexdigest()
    assert str(d / "samples.csv") in shas
    cells = pd.read_csv(out / "cells.tsv", sep="\t")
    assert cells.columns[0] == "sample_id" and cells.sample_id.tolist() == a.obs_names.tolist()
    assert cells.reads.tolist() == a.obs.reads.tolist()
    seg = pd.read_csv(out / "segments.seg", sep="\t", dtype={"chrom": str})
    assert seg.columns.tolist() == ["ID", "chrom", "loc.start", "loc.end", "num.mark", "copy_number", "seg.mean"]
    first = a.uns["segments"].iloc[0]
    assert seg["loc.start"].iloc[0] == first.start + 1 and seg["loc.end"].iloc[0] == first.end
    np.testing.assert_allclose(seg["seg.mean"].iloc[0], np.log2(first.seg_mean), atol=1e-4)
    back = read_cohort(out)
    np.testing.assert_array_equal(back.layers["counts"], a.layers["counts"])
    assert back.uns["ctcscope"]["parameters"]["genome"]["bin_size"] == 500_000
    assert back.obs.loc["P1_WBC", "sample_type"] == "wbc"


def test_rerun_is_reproducible_and_needs_overwrite(cohort, hg19, tmp_path, standin):
    d, _ = cohort
    out = tmp_path / "out"
    wf.run_copy_number(d / "samples.csv", hg19, out, workers=1, quiet=True)
    first = (out / "cells.tsv").read_bytes()
    with pytest.raises(OutputError, match="pass --overwrite"):
        wf.run_copy_number(d / "samples.csv", hg19, out, workers=1, quiet=True)
    wf.run_copy_number(d / "samples.csv", hg19, out, workers=2, quiet=True, overwrite=True)
    assert (out / "cells.tsv").read_bytes() == first


def test_failed_run_leaves_nothing_complete_looking(cohort, hg19, tmp_path, monkeypatch):
    d, _ = cohort

    def broken(adata, **kw):
        raise RuntimeError("segmentation crashed")

    monkeypatch.setattr(wf, "_call_copy_number", broken)
    out = tmp_path / "fresh"
    with pytest.raises(RuntimeError):
        wf.run_copy_number(d / "samples.csv", hg19, out, workers=1, quiet=True)
    assert not out.exists()  # a folder the run created is removed again
    # replacing an earlier run: its run.json and results go first
    monkeypatch.setattr(wf, "_call_copy_number", standin_call_copy_number)
    wf.run_copy_number(d / "samples.csv", hg19, out, workers=1, quiet=True)
    monkeypatch.setattr(wf, "_call_copy_number", broken)
    with pytest.raises(RuntimeError):
        wf.run_copy_number(d / "samples.csv", hg19, out, workers=1, quiet=True, overwrite=True)
    assert not (out / "run.json").exists() and not (out / "cohort.h5ad").exists()


def test_run_from_a_count_matrix(data_path, hg19, tmp_path, standin):
    sheet = tmp_path / "s.tsv"
    sheet.write_text("sample_id\tsample_type\tpatient\n"
                     "GCAGTTACACTGTATG\tctc\tX\nAAAGCAATCTGACGCG\twbc\tX\n")
    out = tmp_path / "out"
    a = wf.run_copy_number(sheet, hg19, out, counts=data_path("scope-10x-demo/scope_demo_10x_3cells_hg19_500kb_counts.tsv.gz"),
                           workers=1, quiet=True)
    assert a.obs_names.tolist() == ["GCAGTTACACTGTATG", "AAAGCAATCTGACGCG"]  # sheet order, third cell left out
    assert a.obs.sample_type.tolist() == ["ctc", "wbc"] and a.n_vars == 5577
    rec = json.loads((out / "run.json").read_text())["steps"]["copy_number"]
    assert "own bins" in rec["parameters"]["genome"]["source"] and rec["parameters"]["min_mapq"] is None


def test_bin_size_parser():
    assert [wf.parse_bin_size(s) for s in ("500kb", "1Mb", "500000", "0.5Mb", "50 kb", 100_000)] == \
        [500_000, 1_000_000, 500_000, 500_000, 50_000, 100_000]


# ----------------------------------------------------------------------------- command line


def _cli(args):
    return runner.invoke(app, [str(a) for a in args])


def test_cli_run_succeeds_and_recognises_the_build(cohort, tmp_path, standin):
    d, _ = cohort
    out = tmp_path / "cli"
    r = _cli(["run", "--samples", d / "samples.csv", "--out", out, "--workers", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    assert (out / "run.json").exists()
    assert json.loads((out / "run.json").read_text())["steps"]["copy_number"]["parameters"]["genome"]["build"] == "hg19"


def _bad_cases(d, tmp):
    """(name, arguments, expected sentence) for the command line; each must exit 2."""
    (tmp / "bams").mkdir(exist_ok=True)
    good = d / "bams" / "P1_CTC1.bam"

    def sheet(name, text):
        p = tmp / name
        p.write_text(text)
        return p

    sam = tmp / "bams" / "text.bam"
    sam.write_text("@HD\tVN:1.6\n")
    hg38 = write_bam(tmp / "bams" / "hg38.bam", header(HG38, "chr"), [Read(0, 100)])
    raw = good.read_bytes()
    (tmp / "bams" / "cut.bam").write_bytes(raw[: len(raw) * 2 // 3])
    user_dir = tmp / "users_folder"
    user_dir.mkdir(exist_ok=True)
    (user_dir / "notes.txt").write_text("mine")
    ratios = tmp / "ratios.tsv"
    ratios.write_text("chrom\tstart\tend\tc1\n1\t0\t500000\t0.9\n1\t500000\t1000000\t1.1\n")
    ok = d / "samples.csv"
    return [
        ("missing sheet", ["--samples", tmp / "nope.csv"], "sample sheet", "does not exist"),
        ("no bam column", ["--samples", sheet("a.csv", "sample_id,patient\nx,P\n")], "has no 'bam' column"),
        ("duplicate ids", ["--samples", sheet("b.csv", f"sample_id,bam\nx,{good}\nx,{good}\n")],
         "sample_id 'x' is already used on line 2"),
        ("unknown type", ["--samples", sheet("c.csv", f"sample_id,bam,sample_type\nx,{good},leukocite\n")],
         "did you mean"),
        ("text as BAM", ["--samples", sheet("d.csv", f"sample_id,bam\nx,{sam}\n"), "--genome", "hg19"],
         "text.bam is a SAM text file, not a BAM"),
        ("wrong build", ["--samples", sheet("e.csv", f"sample_id,bam\nx,{hg38}\n"), "--genome", "hg19"],
         "hg38.bam looks aligned to hg38 (chr1 = 248,956,422 bp) but genome hg19 was chosen"),
        ("unknown build", ["--samples", ok, "--genome", "hg18"], "genome build 'hg18' is not built in"),
        ("bad bin size", ["--samples", ok, "--genome", "hg19", "--bin-size", "big"], "bin size 'big' is not understood"),
        ("bin size not built in", ["--samples", ok, "--genome", "hg19", "--bin-size", "300kb"],
         "bin size 300000 bp is not built in for hg19"),
        ("genome and fasta", ["--samples", ok, "--genome", "hg19", "--fasta", tmp / "x.fa"],
         "give either --genome"),
        ("truncated BAM", ["--samples", sheet("f.csv", f"sample_id,bam\nx,{tmp / 'bams' / 'cut.bam'}\n"),
                           "--genome", "hg19"], "cut.bam is truncated"),
        ("ratios as counts", ["--samples", sheet("g.csv", "sample_id\nc1\n"), "--counts", ratios, "--genome", "hg19"],
         "not whole non-negative numbers"),
        ("no input", ["--genome", "hg19"], "no input given"),
        ("bad mapq", ["--samples", ok, "--genome", "hg19", "--min-mapq", "300"], "minimum mapping quality 300"),
        ("pool without size", ["--samples", sheet("h.csv", f"sample_id,bam,sample_type\nx,{good},ctc_pool\n")],
         "ctc_pool but pool_size is empty"),
        ("user's folder", ["--samples", ok, "--genome", "hg19", "--out-dir", user_dir],
         "already holds files that ctcscope did not write"),
    ]


def test_cli_bad_inputs_one_sentence_exit_2_no_output(cohort, tmp_path, standin):
    d, _ = cohort
    cases = _bad_cases(d, tmp_path)
    assert len(cases) >= 10
    for name, args, *expected in cases:
        out = tmp_path / ("out_" + re.sub(r"\W", "_", name))
        if "--out-dir" in args:
            i = args.index("--out-dir")
            out = args[i + 1]
            args = args[:i] + args[i + 2:]
        r = _cli(["run", *args, "--out", out, "--workers", "1", "--quiet"])
        text = " ".join(r.output.split())
        assert r.exit_code == 2, (name, r.output)
        for e in expected:
            assert e in text, (name, r.output)
        assert "Traceback" not in r.output
        lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), (name, r.output)
        assert not (out / "run.json").exists() and not (out / "cohort.h5ad").exists(), name
        if name != "user's folder":
            assert not out.exists(), name
    assert (tmp_path / "users_folder" / "notes.txt").read_text() == "mine"


def test_cli_earlier_run_needs_overwrite(cohort, tmp_path, standin):
    d, _ = cohort
    out = tmp_path / "o"
    args = ["run", "--samples", d / "samples.csv", "--out", out, "--workers", "1", "--quiet"]
    assert _cli(args).exit_code == 0
    r = _cli(args)
    assert r.exit_code == 2 and "pass --overwrite" in r.output
    assert _cli(args + ["--overwrite"]).exit_code == 0


def test_cli_count_writes_a_matrix_run_reads_back(cohort, tmp_path, hg19, standin):
    d, _ = cohort
    m = tmp_path / "counts.tsv.gz"
    r = _cli(["count", "--samples", d / "samples.csv", "--out", m, "--genome", "hg19", "--workers", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    r = _cli(["count", "--samples", d / "samples.csv", "--out", m, "--genome", "hg19", "--quiet"])
    assert r.exit_code == 2 and "already exists" in r.output
    a = wf.count_samples(d / "samples.csv", hg19, workers=1, quiet=True)
    from ctcscope.io.counts import read_counts

    b = read_counts(m, hg19)
    np.testing.assert_array_equal(a.layers["counts"], b.layers["counts"])


def test_cli_run_on_a_fasta_genome(tmp_path, standin, monkeypatch):
    monkeypatch.setenv("CTCSCOPE_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(5)
    sizes = {"chr1": 6000, "chr2": 5000, "chr3": 4000}
    with open(tmp_path / "ref.fa", "w") as f:
        for c, n in sizes.items():
            f.write(f">{c}\n" + "".join(rng.choice(list("ACGT"), n)) + "\n")
    reads = [Read(i % 3, int(rng.integers(0, list(sizes.values())[i % 3] - 50))) for i in range(300)]
    reads.sort(key=lambda r: (r.ref, r.pos))
    write_bam(tmp_path / "c1.bam", header(sizes), reads, length=50)
    (tmp_path / "s.csv").write_text("sample_id,bam\nc1,c1.bam\n")
    out = tmp_path / "out"
    r = _cli(["run", "--samples", tmp_path / "s.csv", "--fasta", tmp_path / "ref.fa", "--bin-size", "1kb",
              "--out", out, "--workers", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    a = read_cohort(out)
    assert a.n_vars == 6 + 5 + 4 and int(a.layers["counts"].sum()) == 300
    assert a.uns["ctcscope"]["parameters"]["genome"]["source"].startswith("FASTA ref.fa")
    assert list((tmp_path / "cache").glob("fasta-*-1000-*.tsv.gz"))
