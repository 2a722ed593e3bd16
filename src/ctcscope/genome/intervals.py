"""Piecewise-constant values on genome intervals, averaged over bins."""
from __future__ import annotations

import numpy as np


def mean_over_bins(starts: np.ndarray, ends: np.ndarray, values: np.ndarray,
                   bin_starts: np.ndarray, bin_ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Length-weighted mean of ``values`` (one per sorted, non-overlapping interval
    ``[starts, ends)``) over each bin ``[bin_starts, bin_ends)``, and the covered length.

    All positions on one linear axis (e.g. chromosome offset + position).  The integral of a
    piecewise-constant function and of its support are piecewise linear, so interpolating their
    cumulative sums at the bin edges is exact.  Bins with no covered length get NaN.
    """
    a = np.asarray(starts, np.float64)
    b = np.asarray(ends, np.float64)
    v = np.asarray(values, np.float64)
    x = np.empty(2 * a.size)
    x[0::2], x[1::2] = a, b
    F, G = np.zeros(x.size), np.zeros(x.size)
    F[1::2] = np.cumsum(v * (b - a))
    F[2::2] = F[1:-1:2]
    G[1::2] = np.cumsum(b - a)
    G[2::2] = G[1:-1:2]
    bs = np.asarray(bin_starts, np.float64)
    be = np.asarray(bin_ends, np.float64)
    integral = np.interp(be, x, F) - np.interp(bs, x, F)
    covered = np.interp(be, x, G) - np.interp(bs, x, G)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(covered > 0, integral / covered, np.nan)
    return mean, covered
