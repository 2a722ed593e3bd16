"""The cohort step end to end: files, AnnData fields, heatmap and the 'ctcscope cluster' command."""
import json

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from _cohort_synth import synth_cohort  # noqa: E402
from ctcscope.cli import app  # noqa: E402
from ctcscope.cohort import cluster, cohort_matrix, run_cluster_stage  # noqa: E402
from ctcscope.cohort.heatmap import heatmap_embed, plot_heatmap  # noqa: E402


@pytest.fixture(scope="module")
def cohort():
    a, truth = synth_cohort({"P1": [8, 6], "P2": [9], "P3": [5, 5]}, seed=7)
    # a leukocyte control and a failed cell: not clustered by default
    extra = a[:2].copy()
    extra.obs_names = ["P1_WBC", "P1_FAILED"]
    extra.obs["sample_type"] = ["wbc", "ctc"]
    extra.obs["qc_pass"] = [True, False]
    full = ad.concat([a, extra], merge="same", uns_merge="same")
    return full, truth


def test_stage_writes_every_output_and_annotates_the_anndata(cohort, tmp_path):
    a, truth = cohort
    res = run_cluster_stage(a, tmp_path, n_permutations=199)
    for f in ("clusters.tsv", "diversity.tsv", "diversity_test.json", "altered_regions.tsv", "clone_consensus.tsv",
              "figures/heatmap.png", "figures/heatmap.svg", "figures/heatmap.json"):
        assert (tmp_path / f).stat().st_size > 0, f
    cl = pd.read_csv(tmp_path / "clusters.tsv", sep="\t")
    assert len(cl) == 33 and cl.cluster_order.tolist() == list(range(33))
    assert set(cl.sample_id) == set(a.obs_names[:33])
    assert {"clone", "patient", "sample_type", "distance_to_reference", "reference_type"} <= set(cl.columns)
    assert res.obs.loc["P1_WBC", "clone"] == "" and res.obs.loc["P1_WBC", "cluster_order"] == -1
    assert res.obs.loc["P1_FAILED", "cluster_order"] == -1
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, res.obs["clone"].to_numpy()[:33]) == 1.0
    div = pd.read_csv(tmp_path / "diversity.tsv", sep="\t").set_index("patient")
    assert div.loc["P1", "n_clones"] == 2 and div.loc["P2", "n_clones"] == 1
    test = json.loads((tmp_path / "diversity_test.json").read_text())
    assert test["n_patients"] == 3 and test["p_value"] == pytest.approx(1 / 200)
    cons = pd.read_csv(tmp_path / "clone_consensus.tsv", sep="\t")
    assert list(cons.columns[:3]) == ["chrom", "start", "end"] and len(cons.columns) == 3 + 5
    # the result survives an h5ad round trip
    res.write_h5ad(tmp_path / "x.h5ad")
    back = ad.read_h5ad(tmp_path / "x.h5ad")
    assert back.uns["clusters"]["params"]["n_clones"] == 5
    assert list(back.uns["clusters"]["order"]) == cl.sample_id.tolist()
    img = mpimg.imread(tmp_path / "figures" / "heatmap.png")
    assert img.shape[0] > 500 and img.shape[1] > 1500


def test_heatmap_downsamples_rows_and_says_so():
    a, _ = synth_cohort({"P1": [150, 100], "P2": [120]}, seed=8)
    m = cohort_matrix(a)
    c = cluster(m)
    fig = plot_heatmap(m, c, max_rows=100)
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "every 4th sample in tree order drawn (93 rows)" in texts
    emb = heatmap_embed(fig, m, c, max_rows=100)
    assert emb["rows_drawn"] == 93 and emb["row_step"] == 4 and len(emb["order"]) == 93
    assert emb["order"][0] == m.obs_names[c.order[0]]
    assert set(emb["tracks"]) >= {"patient", "clone", "ploidy", "wgd"}
    assert emb["chromosomes"][0]["chrom"] == "1" and emb["chromosomes"][-1]["end"] == pytest.approx(1.0)
    assert emb["png_base64"][:4] == "iVBO"  # PNG magic, base64
    matplotlib.pyplot.close(fig)


def test_cluster_command(cohort, tmp_path):
    a, _ = cohort
    a.write_h5ad(tmp_path / "cohort.h5ad")
    (tmp_path / ".ctcscope").write_text("written by ctcscope\n")
    pd.DataFrame({"sample_id": a.obs_names, "ploidy": a.obs.ploidy}).to_csv(tmp_path / "cells.tsv", sep="\t",
                                                                           index=False)
    (tmp_path / "run.json").write_text(json.dumps({"tool": "ctcscope", "steps": {"copy_number": {"command": "run"}}}))
    runner = CliRunner()
    r = runner.invoke(app, ["cluster", str(tmp_path), "--permutations", "99", "--no-figures"])
    assert r.exit_code == 0, r.output
    steps = json.loads((tmp_path / "run.json").read_text())["steps"]
    assert set(steps) == {"copy_number", "cluster"} and steps["cluster"]["command"] == "cluster"
    assert "clustered into 5 clones" in r.output
    back = ad.read_h5ad(tmp_path / "cohort.h5ad")
    assert (back.obs["cluster_order"] >= 0).sum() == 33
    cells = pd.read_csv(tmp_path / "cells.tsv", sep="\t", keep_default_na=False)
    assert (cells.set_index("sample_id").clone == back.obs.clone).all()
    r = runner.invoke(app, ["cluster", str(tmp_path)])
    assert r.exit_code == 2 and "already holds a clustering result" in r.output
    r = runner.invoke(app, ["cluster", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "has no cohort.h5ad" in r.output
    r = runner.invoke(app, ["cluster", str(tmp_path), "--overwrite", "--samples", "P1,P3", "--no-figures",
                            "--permutations", "9"])
    assert r.exit_code == 0, r.output
    back = ad.read_h5ad(tmp_path / "cohort.h5ad")
    assert set(back.obs.patient[back.obs.cluster_order >= 0]) == {"P1", "P3"}


def test_column_binning_for_drawing_keeps_chromosomes_apart():
    from ctcscope.cohort.heatmap import bin_columns

    X = np.array([[1, 3, 5, np.nan, 10, 20, 30]], dtype=np.float32)
    chrom = np.array(["1", "1", "1", "1", "2", "2", "2"])
    out, ch = bin_columns(X, chrom, max_cols=4)  # k = 2: runs of two bins inside each chromosome
    np.testing.assert_allclose(out[0], [2, 5, 15, 30])
    assert ch.tolist() == ["1", "1", "2", "2"]
    same, ch2 = bin_columns(X, chrom, max_cols=10)
    assert same is X and ch2 is chrom
