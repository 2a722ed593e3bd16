"""Copy-number engine: correction, segmentation, ploidy and absolute copy number, QC, instability.

>>> from ctcscope.cna import call_copy_number
>>> called = call_copy_number(adata)          # adata: layers['counts'], obs, var from Genome.to_var()
>>> called.obs[["ploidy", "ploidy_confidence", "wgd", "qc_pass", "normal_like", "fga"]]

Each step is also a function of its own: :func:`gc_correct`, :func:`build_panel_of_normals` /
:func:`apply_panel_of_normals`, :func:`segment`, :func:`call_ploidy`, :func:`qc`,
:func:`instability`.  The method and its measured accuracy are described in ``docs/cna.md``.
"""
from .correct import apply_panel_of_normals, build_panel_of_normals, gc_correct, outlier_bins
from .instability import instability
from .noise import NoiseModel, WaveModel, estimate_noise, estimate_waviness, fit_wave_model, mapd, vst
from .pipeline import DEFAULTS, call_copy_number
from .ploidy import PloidyCall, call_ploidy, min_rmse_ploidy
from .qc import flat_fraction, normal_like, qc
from .segment import changepoints, merge_equal, segment

__all__ = [
    "DEFAULTS", "NoiseModel", "PloidyCall", "WaveModel", "apply_panel_of_normals", "build_panel_of_normals",
    "call_copy_number", "call_ploidy", "changepoints", "estimate_noise", "estimate_waviness", "fit_wave_model",
    "flat_fraction", "gc_correct", "instability", "mapd", "merge_equal", "min_rmse_ploidy", "normal_like",
    "outlier_bins", "qc", "segment", "vst",
]
