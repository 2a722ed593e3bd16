"""Exact optimal leaf ordering of a binary tree (Bar-Joseph, Gifford & Jaakkola 2001,
Bioinformatics 17 Suppl 1:S22, doi:10.1093/bioinformatics/17.suppl_1.S22).

Among the 2^(n-1) leaf orders a tree allows (flipping the two branches of any node), find
the one whose sum of distances between neighbouring leaves is least.  SciPy's
``optimal_leaf_ordering`` does not always return that order (scipy/scipy issue #11227)
and is O(n^4); this is the O(n^3)-time, O(n^2)-memory dynamic programme, compiled with
numba.  ``M[i, j]`` holds the best path length of the subtree rooted at the lowest
common ancestor of leaves ``i`` and ``j`` that starts at ``i`` and ends at ``j``; every
pair of leaves has exactly one such ancestor, so one n x n table holds the whole
programme.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from scipy.cluster.hierarchy import leaves_list


def _intervals(Z: np.ndarray):
    """Leaves of every node as a contiguous interval of a base order: (lo, mid, hi) with
    the first child on [lo, mid) and the second on [mid, hi)."""
    n = Z.shape[0] + 1
    base = leaves_list(Z)
    pos = np.empty(n, dtype=np.int64)
    pos[base] = np.arange(n)
    lo = np.empty(2 * n - 1, dtype=np.int64)
    hi = np.empty(2 * n - 1, dtype=np.int64)
    lo[:n] = pos
    hi[:n] = pos + 1
    mid = np.full(2 * n - 1, -1, dtype=np.int64)
    a = Z[:, 0].astype(np.int64)
    b = Z[:, 1].astype(np.int64)
    for k in range(n - 1):
        # leaves_list puts the first child (Z[k, 0]) before the second
        lo[n + k] = lo[a[k]]
        mid[n + k] = hi[a[k]]
        hi[n + k] = hi[b[k]]
    return base, lo, mid, hi, a, b


@njit(cache=True)
def _other(i, lo, mid, hi, node, n):
    """Leaves of ``node`` on the other side from leaf position ``i`` (itself for a leaf)."""
    if node < n:
        return i, i + 1
    if i < mid[node]:
        return mid[node], hi[node]
    return lo[node], mid[node]


@njit(cache=True)
def _fill(D, lo, mid, hi, a, b, n):
    M = np.zeros((n, n))
    for k in range(n - 1):
        v = n + k
        l, r = a[k], b[k]
        L0, L1 = lo[l], hi[l]
        R0, R1 = lo[r], hi[r]
        T = np.empty((L1 - L0, R1 - R0))
        for i in range(L0, L1):
            o1, o2 = _other(i, lo, mid, hi, l, n)
            for kk in range(R0, R1):
                best = np.inf
                for m in range(o1, o2):
                    c = M[i, m] + D[m, kk]
                    if c < best:
                        best = c
                T[i - L0, kk - R0] = best
        for j in range(R0, R1):
            p1, p2 = _other(j, lo, mid, hi, r, n)
            for i in range(L0, L1):
                best = np.inf
                for kk in range(p1, p2):
                    c = T[i - L0, kk - R0] + M[kk, j]
                    if c < best:
                        best = c
                M[i, j] = best
                M[j, i] = best
    return M


@njit(cache=True)
def _trace(D, M, lo, mid, hi, a, b, n):
    """Leaf positions of the optimal order, by walking the programme back from the root."""
    out = np.empty(n, dtype=np.int64)
    root = 2 * n - 2
    if n == 1:
        out[0] = 0
        return out
    # best pair of ends at the root
    best, bi, bj = np.inf, -1, -1
    for i in range(lo[a[n - 2]], hi[a[n - 2]]):
        for j in range(lo[b[n - 2]], hi[b[n - 2]]):
            if M[i, j] < best:
                best, bi, bj = M[i, j], i, j
    # explicit stack of (node, start leaf, end leaf, output offset)
    st_node = np.empty(2 * n, dtype=np.int64)
    st_s = np.empty(2 * n, dtype=np.int64)
    st_e = np.empty(2 * n, dtype=np.int64)
    st_o = np.empty(2 * n, dtype=np.int64)
    top = 0
    st_node[0], st_s[0], st_e[0], st_o[0] = root, bi, bj, 0
    top = 1
    while top > 0:
        top -= 1
        v, s, e, off = st_node[top], st_s[top], st_e[top], st_o[top]
        if v < n:
            out[off] = s
            continue
        l, r = a[v - n], b[v - n]
        # the child holding the start leaf comes first
        if lo[l] <= s < hi[l]:
            first, second = l, r
        else:
            first, second = r, l
        o1, o2 = _other(s, lo, mid, hi, first, n)
        p1, p2 = _other(e, lo, mid, hi, second, n)
        best, bm, bk = np.inf, -1, -1
        for m in range(o1, o2):
            for kk in range(p1, p2):
                c = M[s, m] + D[m, kk] + M[kk, e]
                if c < best:
                    best, bm, bk = c, m, kk
        size_first = hi[first] - lo[first]
        st_node[top], st_s[top], st_e[top], st_o[top] = first, s, bm, off
        top += 1
        st_node[top], st_s[top], st_e[top], st_o[top] = second, bk, e, off + size_first
        top += 1
    return out


def optimal_order(Z: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Leaf order (sample indices) of ``Z`` minimising the summed distance between
    neighbours; ``D`` the square distance matrix of the samples."""
    n = Z.shape[0] + 1
    if n < 3:
        return leaves_list(Z)
    base, lo, mid, hi, a, b = _intervals(Z)
    Db = np.ascontiguousarray(np.asarray(D, dtype=np.float64)[np.ix_(base, base)])
    M = _fill(Db, lo, mid, hi, a, b, n)
    return base[_trace(Db, M, lo, mid, hi, a, b, n)]
