"""``ctcscope simulate`` and the file writers: what lands on disk matches the simulation."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pysam
import pytest
import yaml
from typer.testing import CliRunner

from ctcscope.cli import app
from ctcscope.genome import load_genome
from ctcscope.simulate import make_demo, random_design, simulate_cohort

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["simulate", *map(str, args)])


def test_cli_counts_and_bams(tmp_path):
    out = tmp_path / "sim"
    r = _run("--out", out, "--cells", 5, "--seed", 3, "--bam", "--pools", 1, "--reads", "20k-40k")
    assert r.exit_code == 0, r.output
    assert "SIMULATED" in r.output
    sheet = pd.read_csv(out / "samples.csv")
    assert {"sample_id", "bam", "patient", "sample_type", "pool_size", "phenotype", "isolation", "gii", "simulated"} <= set(sheet)
    assert sheet.simulated.astype(str).str.lower().eq("true").all()
    # the same simulation in memory
    g = load_genome("hg19", 500_000)
    d = random_design(5, seed=3, genome=g, pools_per_patient=1)
    d.bias.reads = (20_000, 40_000)
    sim = simulate_cohort(d, g, seed=3)
    assert sim.counts.sum(axis=1).max() < 50_000
    assert list(sheet.sample_id) == list(sim.adata.obs_names)
    counts = pd.read_csv(out / "counts.tsv.gz", sep="\t", dtype={"chrom": str})
    assert list(counts.columns[:3]) == ["chrom", "start", "end"]
    np.testing.assert_array_equal(counts[sheet.sample_id].to_numpy().T, sim.counts)
    a = ad.read_h5ad(out / "counts.h5ad")
    np.testing.assert_array_equal(a.layers["counts"], sim.counts)
    assert a.obs.bam.str.endswith(".bam").all()
    # BAMs are where the sheet says (relative to the sheet) and hold the counts
    rec = pd.read_csv(out / "truth" / "bam_records.tsv", sep="\t")
    for i, row in sheet.iterrows():
        p = out / row.bam
        assert p.exists() and (out / (row.bam + ".bai")).exists()
        n = int(pysam.view("-c", "-q", "30", "-F", "0xF04", str(p)).strip())
        assert n == sim.counts[i].sum() == rec.counted[i]
    # truth tables
    ts = pd.read_csv(out / "truth" / "samples.tsv", sep="\t")
    assert list(ts.sample_id) == list(sheet.sample_id) and {"ploidy", "mean_cn", "wgd", "normal_like", "clone"} <= set(ts)
    seg = pd.read_csv(out / "truth" / "segments.tsv", sep="\t", dtype={"chrom": str})
    assert seg.groupby("sample_id").n_bins.sum().eq(g.n_bins).all()
    cn = pd.read_csv(out / "truth" / "cn.tsv.gz", sep="\t", dtype={"chrom": str})
    np.testing.assert_allclose(cn[sheet.sample_id].to_numpy().T, sim.truth.cn, rtol=1e-5)
    genes = pd.read_csv(out / "truth" / "genes.tsv", sep="\t")
    assert {"sample_id", "gene", "cn", "state", "planted"} <= set(genes)
    bp = pd.read_csv(out / "truth" / "breakpoints.tsv", sep="\t")
    assert len(bp) == len(sim.truth.breakpoints())
    # design round trip: re-simulating from design.yaml gives the same counts
    r2 = _run("--out", tmp_path / "again", "--design", out / "design.yaml", "--seed", 3)
    assert r2.exit_code == 0, r2.output
    again = pd.read_csv(tmp_path / "again" / "counts.tsv.gz", sep="\t", dtype={"chrom": str})
    pd.testing.assert_frame_equal(again, counts)
    assert not (tmp_path / "again" / "bams").exists()  # counts only by default
    # overwriting a BAM simulation with a counts-only one leaves no stale BAMs behind
    r3 = _run("--out", out, "--cells", 3, "--seed", 4, "--overwrite")
    assert r3.exit_code == 0, r3.output
    assert not list((out / "bams").glob("*.bam")) and not (out / "truth" / "bam_records.tsv").exists()
    assert "bam" not in pd.read_csv(out / "samples.csv")


def test_make_demo_files(tmp_path):
    files = make_demo(tmp_path / "demo")
    sheet = pd.read_csv(files.samples)
    assert sheet.sample_id.str.startswith("SIM-").all() and "bam" not in sheet
    pat = yaml.safe_load(files.patients.read_text())
    assert pat["simulated"] is True and len(pat["patients"]) == 6
    p45 = next(p for p in pat["patients"] if p["id"] == "P45")
    assert p45["variant"] == "v3" and p45["treatments"][-1]["drug"] == "lorlatinib"
    found = {s for m in p45["mutations"] for s in m["found_in"]}
    assert found <= set(sheet.sample_id)
    assert "SIMULATED" in (tmp_path / "demo" / "SIMULATED.txt").read_text()
    assert files.sim.adata.obs.treatment_group.isin(["crizotinib", "lorlatinib"]).all()


@pytest.mark.parametrize("args, message", [
    (["--bin-size", "7kb"], "not built in"),
    (["--bin-size", "big"], "not understood"),
    (["--genome", "hg17"], "not built in"),
    (["--demo", "--design", "x.yaml"], "either --demo or --design"),
    (["--design", "missing.yaml"], "does not exist"),
    (["--reads", "lots"], "not understood"),
    (["--reads", "2M-1M"], "low-high range"),
])
def test_cli_bad_inputs(tmp_path, args, message):
    out = tmp_path / "o"
    r = _run("--out", out, *args)
    assert r.exit_code == 2
    assert message in r.output
    assert not out.exists() or not any(out.iterdir())


def test_cli_bad_design_and_folder(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("patients:\n  - id: P1\n    clones: [{name: A, ploidy: 3, wgd: true}]\n    samples: [{id: s1, clone: A}]\n")
    r = _run("--out", tmp_path / "o", "--design", bad)
    assert r.exit_code == 2 and "even base ploidy" in r.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("patients: [\n")
    r = _run("--out", tmp_path / "o", "--design", broken)
    assert r.exit_code == 2 and "not valid YAML" in r.output
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("my data")
    r = _run("--out", user, "--cells", 2)
    assert r.exit_code == 2 and "did not write" in r.output
    assert (user / "notes.txt").read_text() == "my data" and len(list(user.iterdir())) == 1
    ok = _run("--out", tmp_path / "ok", "--cells", 2)
    assert ok.exit_code == 0
    again = _run("--out", tmp_path / "ok", "--cells", 2)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert _run("--out", tmp_path / "ok", "--cells", 2, "--overwrite").exit_code == 0
