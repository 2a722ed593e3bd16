"""The cohort matrix: log2(CN / ploidy) on a fixed grid, hand-checked."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

from ctcscope.cohort import cohort_matrix, select_samples
from ctcscope.errors import InputError


def tiny(cn, ploidy, **obs):
    """chr1 of 1 Mb in eight 125 kb bins; bins 6-7 unusable."""
    var = pd.DataFrame({"chrom": "1", "start": np.arange(8) * 125_000, "end": np.arange(1, 9) * 125_000,
                        "use": [True] * 6 + [False] * 2})
    var.index = [f"1:{s + 1}-{e}" for s, e in zip(var.start, var.end)]
    cn = np.asarray(cn, dtype=np.float32)
    cn[:, ~var.use.to_numpy()] = np.nan
    o = pd.DataFrame({"ploidy": ploidy, **obs}, index=[f"c{i}" for i in range(len(cn))])
    return ad.AnnData(X=np.nan_to_num(cn), obs=o, var=var,
                      layers={"cn": cn, "segment": cn / np.nanmean(cn, axis=1, keepdims=True)})


def test_log2_cn_over_ploidy_hand_checked():
    a = tiny([[2, 2, 3, 1, 0, 0, 9, 9],       # diploid: gain in bin 1 of the grid, homozygous loss
              [4, 4, 6, 2, 0, 8, 9, 9]],      # tetraploid: same gains/losses doubled, then CN 8
             ploidy=[2, 4])
    m = cohort_matrix(a, 250_000, samples="all")
    assert m.var.start.tolist() == [0, 250_000, 500_000]  # the 750 kb-1 Mb bin has no usable bins: dropped
    X = np.asarray(m.X, dtype=np.float64)
    # grid bin 0: mean CN 2 -> 0 ; grid bin 1: (3 + 1) / 2 = 2 -> 0 ; grid bin 2: CN 0 floored at 0.5
    np.testing.assert_allclose(X[0], [0.0, 0.0, -2.0], atol=1e-6)
    # tetraploid: bin 1 (6 + 2) / 2 = 4 -> 0; bin 2 (0 + 8) / 2 = 4 -> 0
    np.testing.assert_allclose(X[1], [0.0, 0.0, 0.0], atol=1e-6)
    b = tiny([[2, 2, 4, 4, 8, 8, 9, 9]], ploidy=[2])
    np.testing.assert_allclose(cohort_matrix(b, 250_000, samples="all").X[0], [0.0, 1.0, 2.0], atol=1e-6)
    # clipping at the study's [-2, 2] and without
    c = tiny([[2, 2, 16, 16, 1, 1, 9, 9]], ploidy=[2])
    np.testing.assert_allclose(cohort_matrix(c, 250_000, samples="all").X[0], [0, 2, -1], atol=1e-6)
    np.testing.assert_allclose(cohort_matrix(c, 250_000, samples="all", clip=None).X[0], [0, 3, -1], atol=1e-6)


def test_whole_genome_doubling_does_not_change_the_profile():
    base = np.array([[2, 2, 3, 3, 1, 1, 2, 2]])
    a = tiny(np.vstack([base, base * 2]), ploidy=[2, 4])
    X = cohort_matrix(a, 250_000, samples="all").X
    np.testing.assert_allclose(X[0], X[1], atol=1e-6)


def test_segment_value_and_missing_bins():
    a = tiny([[2, 2, 4, 4, 2, 2, 9, 9]], ploidy=[2])
    m = cohort_matrix(a, 250_000, value="log2_segment", samples="all")
    mean = np.mean([2, 2, 4, 4, 2, 2])
    np.testing.assert_allclose(m.X[0], np.log2(np.array([2, 4, 2]) / mean), atol=1e-6)
    # a bin missing in one of two cells is kept (50 % missing) and stays NaN in that cell
    a = tiny([[2, 2, 2, 2, 2, 2, 9, 9], [2, 2, 2, 2, 2, 2, 9, 9]], ploidy=[2, 2])
    a.layers["cn"][0, 4:6] = np.nan
    m = cohort_matrix(a, 250_000, samples="all")
    assert m.n_vars == 3 and np.isnan(m.X[0, 2]) and m.X[1, 2] == 0
    m = cohort_matrix(a, 250_000, samples="all", max_missing=0.4)
    assert m.n_vars == 2


def test_sample_selection():
    obs = pd.DataFrame({"sample_type": ["ctc", "ctc", "wbc", "biopsy", "ctc_pool", "ctc"],
                        "qc_pass": [True, False, True, True, True, True],
                        "normal_like": [False, False, True, False, False, True],
                        "patient": ["P1", "P1", "P1", "P2", "P2", "P2"]},
                       index=list("abcdef"))
    assert select_samples(obs).tolist() == [True, False, False, True, True, False]
    assert select_samples(obs, "tumour").tolist() == [True, True, False, True, True, True]
    assert select_samples(obs, "all").all()
    assert select_samples(obs, ["P2"]).tolist() == [False, False, False, True, True, False]
    assert select_samples(obs, ["b", "c"]).tolist() == [False, True, True, False, False, False]
    with pytest.raises(InputError, match="neither sample ids nor patients"):
        select_samples(obs, ["P9"])


def test_bad_input_is_explained():
    a = tiny([[2] * 8], ploidy=[np.nan])
    with pytest.raises(InputError, match="no ploidy"):
        cohort_matrix(a, 250_000, samples="all")
    with pytest.raises(InputError, match="unknown matrix value"):
        cohort_matrix(a, 250_000, value="log10")
    del a.layers["segment"]
    with pytest.raises(InputError, match="no 'segment' layer"):
        cohort_matrix(a, 250_000, value="log2_segment", samples="all")
    a.obs["sample_type"] = "wbc"
    with pytest.raises(InputError, match="no sample is left"):
        cohort_matrix(a, 250_000)


def test_grid_reaches_the_chromosome_end_of_the_build():
    a = tiny([[2] * 8], ploidy=[2])
    a.uns["ctcscope"] = {"parameters": {"genome": {"build": "hg19", "bin_size": 125_000}}}
    m = cohort_matrix(a, 250_000, samples="all", max_missing=1.0)
    # without the build the grid stops at the last bin (1 Mb); with it, at chr1's end
    from ctcscope.cohort.matrix import _chrom_sizes

    assert _chrom_sizes(a)["1"] == 249_250_621
    assert m.var.start.max() < 1_000_000  # bins without any usable data are left out
