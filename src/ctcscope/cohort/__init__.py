"""Cohort heterogeneity: a fixed-grid matrix of log2 relative copy number, Ward clustering
with clone calls, intra/inter-patient diversity, and the clustering heatmap.

>>> m = cohort_matrix(adata)              # samples x 250 kb bins, log2(CN / ploidy) in [-2, 2]
>>> cl = cluster(m)                       # Ward tree, leaf order, clones, consensus profiles
>>> test = patient_test(m)                # within- vs between-patient permutation test
>>> fig = plot_heatmap(m, cl)             # like Fig. 3 of Oulhen et al. 2021
>>> adata = run_cluster_stage(adata, "out")   # all of it, written to out/

Reproduces the "Hierarchical clustering" of Oulhen et al. 2021 (npj Precis Oncol 5:71,
doi:10.1038/s41698-021-00203-1).
"""
from .cluster import Clustering, cluster
from .diversity import altered_regions, distance_to_reference, diversity_table, patient_spread, patient_test
from .matrix import cohort_matrix, select_samples
from .rebin import freec_windows, grid_for, make_grid, normalise_intervals, overlap_matrix, rebin, rebin_segments, \
    rebin_table
from .stage import run_cluster_stage


def plot_heatmap(*args, **kwargs):
    """See :func:`ctcscope.cohort.heatmap.plot_heatmap` (matplotlib is imported on use)."""
    from .heatmap import plot_heatmap as _plot

    return _plot(*args, **kwargs)


__all__ = [
    "Clustering", "altered_regions", "cluster", "cohort_matrix", "distance_to_reference", "diversity_table",
    "freec_windows", "grid_for", "make_grid", "normalise_intervals", "overlap_matrix", "patient_spread",
    "patient_test", "plot_heatmap", "rebin", "rebin_segments", "rebin_table", "run_cluster_stage", "select_samples",
]
