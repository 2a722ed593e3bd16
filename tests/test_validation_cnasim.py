"""The CNAsim validation source (benchmarks/validation/cnasim_source.py) against CNAsim's own output."""
import contextlib
import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("CNAsim")
pytest.importorskip("msprime")
pytest.importorskip("Bio")

SRC = Path(__file__).resolve().parents[1] / "benchmarks" / "validation" / "cnasim_source.py"


def _source():
    spec = importlib.util.spec_from_file_location("cnasim_source", SRC)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def cs():
    return _source()


@pytest.fixture(scope="module")
def cohort(cs, tmp_path_factory):
    keep = tmp_path_factory.mktemp("cnasim")
    c = cs.make_cohort(3, split="tune", n_cells=18, controls=2, reads=None, workers=2, keep=keep)
    return c, keep


def _cnasim_table(path):
    return pd.read_csv(path, sep="\t", dtype={"chrom": str, "CELL": str})


def test_counts_and_cn_are_cnasims(cohort):
    c, keep = cohort
    a, t = c.adata, c.truth
    assert c.source == "cnasim" and c.split == "tune"
    assert c.cn.shape == a.shape and a.layers["counts"].shape == a.shape
    assert not a.var.chrom.isin(["X", "Y"]).any()
    key = a.var.chrom.astype(str) + ":" + a.var.start.astype(str) + "-" + a.var.end.astype(str)
    for lineage in t.lineage.unique():
        rc = _cnasim_table(keep / lineage / "readcounts.tsv")
        pr = _cnasim_table(keep / lineage / "profiles.tsv")
        for name in t.index[t.lineage == lineage][:3]:
            cell = t.cnasim_cell[name]
            r = rc[rc.CELL == cell]
            p = pr[pr.CELL == cell]
            rkey = r.chrom.str.removeprefix("chr") + ":" + r.start.astype(str) + "-" + r.end.astype(str)
            counts = pd.Series((r.Acount + r.Bcount).to_numpy(), index=rkey.to_numpy())
            cn = pd.Series(p["CN states"].str.split(",", expand=True).astype(int).sum(axis=1).to_numpy(),
                           index=rkey.to_numpy())
            i = a.obs_names.get_loc(name)
            # reads=None: every kept bin holds exactly CNAsim's reads (allele A + B) and copy number
            assert np.array_equal(a.layers["counts"][i], counts.loc[key].to_numpy())
            assert np.array_equal(c.cn[i], cn.loc[key].to_numpy())
            assert t.cnasim_reads[name] == counts.sum()
            # only chromosome-end bins are lost in the mapping
            assert a.layers["counts"][i].sum() > 0.97 * counts.sum()


def test_truth_table(cohort):
    c, _ = cohort
    t, obs = c.truth, c.adata.obs
    assert {"ploidy", "wgd", "wgd_rule", "score", "mean_cn", "clone", "normal_cell", "n_wgd"} <= set(t)
    assert set(obs.sample_type) == {"ctc", "wbc"} and (obs.sample_type == "wbc").sum() == 2
    assert (obs.pool_size == 1).all() and obs.patient.nunique() == 1
    normal = t.normal_cell
    assert normal.sum() >= 3 and (t.ploidy[normal] == 2).all() and (t.wgd[normal] == 0).all()
    assert np.allclose(c.cn[normal.to_numpy()], 2)
    # a cohort built with CNAsim's -w holds doubled cells, and every -w cell carries the record
    assert ((t.n_wgd >= 1) & (t.ploidy == 4)).any()
    assert (t.wgd[t.lineage.isin(["3n", "4n"])] == 1).all() and (t.wgd[t.lineage == "2n"] == 0).all()
    assert ((t.ploidy == 2) & ~normal).any()
    assert (t.wgd_rule == (t.ploidy >= 4)).all()
    var = c.adata.var
    w = (var.end - var.start).to_numpy() * var.use.to_numpy()
    for name in t.index[:5]:
        row = c.cn[c.adata.obs_names.get_loc(name)].astype(int)
        assert t.ploidy[name] == np.bincount(row, weights=w).argmax()


def test_deterministic_per_seed(cs):
    jobs1, info1 = cs.design(11, 40)
    jobs2, info2 = cs.design(11, 40)
    assert jobs1 == jobs2 and info1 == info2
    assert cs.design(12, 40)[0] != jobs1


def test_hexaploid_extension_doubles_a_clone(cs):
    flags = ["-m", "1", "-N", "4", "-L", "40000000", "-k", "100000", "-B", "500000", "-n", "8", "-c", "1", "-v",
             "-w", "-C", "0.2"]
    r = cs.run_cnasim(flags, 4, double_clone=True)
    assert r["doubled"] and r["doubled"] <= set(r["cells"])
    mean = r["cn"].mean(axis=1)
    inside = np.array([c in r["doubled"] for c in r["cells"]])
    assert mean[inside].min() > 1.4 * mean[~inside].max() if (~inside).any() else True


def test_shims_reproduce_cnasim_byte_for_byte(cs, tmp_path):
    """The speed shims (numpy Poisson, float Bezier) give exactly CNAsim's output."""
    import CNAsim.main as M

    flags = ["-m", "1", "-t", "1", "-N", "3", "-L", "30000000", "-k", "100000", "-B", "500000", "-n", "4", "-w",
             "-C", "0.3"]
    r = cs.run_cnasim(flags, 99, keep=tmp_path / "shimmed")
    import CNAsim.reads as R
    from scipy.stats import poisson

    assert R.poisson is poisson  # the shims were undone, so the run below is CNAsim's own
    np.random.seed(r["cnasim_seed"])
    argv = sys.argv
    sys.argv = ["cnasim", "-o", str(tmp_path / "plain")] + flags
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            M.main()
    except TypeError:  # CNAsim 1.3.5 can fail writing focal_events.tsv, after the files compared here
        pass
    finally:
        sys.argv = argv
    for f in ("readcounts.tsv", "profiles.tsv", "tree.nwk", "cell_types.tsv"):
        assert (tmp_path / "shimmed" / f).read_bytes() == (tmp_path / "plain" / f).read_bytes(), f
