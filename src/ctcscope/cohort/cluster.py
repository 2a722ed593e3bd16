"""Ward clustering of the cohort matrix, leaf ordering, clone calls and clone consensus.

The tree is the study's: Euclidean distance and Ward linkage on the log2 relative copy
number (Oulhen et al. 2021, npj Precis Oncol 5:71, Methods "Hierarchical clustering"),
computed with fastcluster (Müllner 2013, J Stat Softw 53(9), doi:10.18637/jss.v053.i09).

Clones are read off the tree top-down.  Starting at the root, a node is split into its two
branches when both hold at least ``min_clone_size`` samples and both are well separated:
the mean silhouette (Rousseeuw 1987, J Comput Appl Math 20:53,
doi:10.1016/0377-0427(87)90125-7) of each branch reaches ``silhouette_threshold`` (0.25,
the bound below which Kaufman & Rousseeuw 1990 find "no substantial structure").  The
silhouette is taken in its nearest-neighbour form: for a sample, ``a`` is the mean
distance to its ``k`` nearest samples in its own branch and ``b`` to its ``k`` nearest
samples in the other branch, ``s = (b - a) / max(a, b)``, with ``k = min_clone_size - 1``
(between 1 and 10: a member of the smallest allowed clone has that many clone mates).  A branch each of whose
samples has its nearest neighbours on its own side is a clone boundary.  When one branch
is smaller than ``min_clone_size`` the larger one is examined in its place; if a split is
accepted further down, the small branches passed on the way are set aside and join the
clone whose mean profile is nearest, otherwise the whole node is one clone.

Why this rule: the silhouette is free of scale (it compares distances with distances, so
it does not depend on the grid, the noise level or the number of cells) and needs neither
a null model nor re-clustering of resamples, so it stays cheap at 10,000 cells (large
nodes are scored on a seeded sample of ``max_silhouette_cells``).  Requiring *both*
branches to pass stops a few scattered outliers from becoming a clone because the rest is
tight.  The nearest-neighbour form is needed because the ordinary silhouette averages
over whole branches: a branch that holds several far-apart patients, or one large
diffuse clone, scores low against a tight sibling although the boundary between them is
clean (on the real CopyKit BL1 cells the ordinary silhouette keeps every tumour subclone
together; on simulated cohorts it merges a patient with its neighbours), and ``k`` must
stay below the clone size or a small clone's samples are judged by their distance to a
different clone sharing their branch.  Examined node
by node, the rule finds clones nested inside patients, which one global cut of the tree
misses when patients are far apart and clones within a patient close.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import anndata as ad
import fastcluster
import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster

from ..errors import InputError

#: Above this many samples the exact O(n^3) optimal leaf ordering (~3 s at 2,000
#: samples on one core) is replaced by the linear Gruvaeus-Wainer orientation heuristic.
OLO_MAX = 2000
#: Above this many samples the tree is built on the leading principal components
#: (condensed distances would need > 1.6 GB); up to it, on exact Euclidean distances.
EXACT_MAX = 20_000
#: Up to this many samples the square distance matrix is kept (float32) for look-ups.
SQUARE_MAX = 12_000
SPLIT_COLUMNS = ["node", "size", "size_left", "size_right", "silhouette_left", "silhouette_right", "accepted",
                 "n_small_branches"]


@dataclass
class Clustering:
    """Result of :func:`cluster`.  Row ``i`` of every array is sample ``sample_ids[i]``."""

    sample_ids: list[str]
    linkage: np.ndarray                 # (n-1, 4) scipy/fastcluster linkage matrix
    order: np.ndarray                   # leaf order: row indices from top to bottom
    clones: np.ndarray                  # clone label per row ("C1", "C2", ... in leaf order)
    assigned: np.ndarray                # "tree" or "nearest" (set aside, joined the nearest clone)
    consensus: pd.DataFrame             # clones x bins, median log2 value of the clone's samples
    splits: pd.DataFrame                # every node examined: size_left, size_right, silhouette, accepted
    params: dict = field(default_factory=dict)

    @property
    def position(self) -> np.ndarray:
        """Leaf position of each row (0 = top of the heatmap)."""
        pos = np.empty(len(self.order), dtype=np.int64)
        pos[self.order] = np.arange(len(self.order))
        return pos

    def table(self) -> pd.DataFrame:
        """``sample_id, clone, cluster_order, clone_assignment`` in leaf order."""
        return pd.DataFrame({"sample_id": np.asarray(self.sample_ids)[self.order],
                             "clone": self.clones[self.order],
                             "cluster_order": np.arange(len(self.order)),
                             "clone_assignment": self.assigned[self.order]})


# --------------------------------------------------------------------------- distances
def nan_to_zero(X: np.ndarray) -> np.ndarray:
    """float64 copy with NaN set to 0 (np.nan_to_num also scans for infinities: slower)."""
    F = np.array(X, dtype=np.float64)
    F[np.isnan(F)] = 0.0
    return F


def nanmedian_columns(A: np.ndarray) -> np.ndarray:
    """Column medians ignoring NaN (NaN where a column has no value), by one sort: NaN
    sorts last, so the middle of each column's finite values is found by its count."""
    S = np.sort(A, axis=0)
    k = np.isfinite(A).sum(axis=0)
    lo = np.maximum((k - 1) // 2, 0)
    hi = np.maximum(k // 2, 0)
    j = np.arange(A.shape[1])
    with np.errstate(invalid="ignore"):
        med = 0.5 * (S[lo, j] + S[hi, j])
    med[k == 0] = np.nan
    return med


def compress_columns(X: np.ndarray) -> np.ndarray:
    """Merge runs of identical adjacent columns into one column scaled by sqrt(run length).

    Euclidean distances between rows are unchanged exactly; segmented copy-number
    profiles share most breakpoints, so this often shrinks 12,000 grid bins to a few
    hundred columns.
    """
    if X.shape[1] <= 1:
        return X
    change = np.r_[True, np.any(X[:, 1:] != X[:, :-1], axis=0)]
    starts = np.flatnonzero(change)
    runs = np.diff(np.r_[starts, X.shape[1]])
    return X[:, starts] * np.sqrt(runs).astype(np.float64)[None, :]


class Distances:
    """Euclidean distances between the rows of a matrix (NaN read as 0).

    Rows are kept as compressed, centred float64 features (see :func:`compress_columns`).
    Up to ``square_max`` rows the full distance matrix is computed once, in blocks, and
    kept as float32 (400 MB at 10,000 rows) for every later look-up; above it, blocks are
    computed from the features on request.
    """

    def __init__(self, X: np.ndarray, square_max: int = SQUARE_MAX, block: int = 1024):
        # compress in the input precision, then widen only the (fewer) compressed columns
        Z = np.array(X, dtype=np.result_type(np.asarray(X).dtype, np.float32))
        Z[np.isnan(Z)] = 0.0
        F = compress_columns(Z)
        del Z
        F = F.astype(np.float64, copy=False)
        F -= F.mean(axis=0, keepdims=True)  # centring: same distances, less cancellation
        self.F = F
        self.sq = np.einsum("ij,ij->i", F, F)
        self.n = F.shape[0]
        self.square_max = square_max
        self.block = block
        self.D = None

    def _fill(self, condensed: bool) -> np.ndarray | None:
        """One pass over row blocks: keeps the float32 square matrix (when small enough)
        and, if asked, returns the float64 condensed vector."""
        n = self.n
        keep = n <= self.square_max and self.D is None
        D = np.empty((n, n), dtype=np.float32) if keep else None
        out = np.empty(n * (n - 1) // 2, dtype=np.float64) if condensed else None
        pos = 0
        allc = np.arange(n)
        for a in range(0, n, self.block):
            rows = np.arange(a, min(a + self.block, n))
            B = self._block(rows, allc[a:])  # upper triangle only: half the products
            if keep:
                D[a:a + len(rows), a:] = B
                D[a:, a:a + len(rows)] = B.T
            if condensed:
                for k, i in enumerate(rows):
                    m = n - i - 1
                    out[pos:pos + m] = B[k, i + 1 - a:]
                    pos += m
        if keep:
            np.fill_diagonal(D, 0.0)
            self.D = D
        return out

    def _square_ready(self) -> bool:
        if self.D is None and self.n <= self.square_max:
            self._fill(condensed=False)
        return self.D is not None

    def _block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        d2 = self.sq[rows, None] + self.sq[None, cols] - 2.0 * (self.F[rows] @ self.F[cols].T)
        return np.sqrt(np.maximum(d2, 0.0))

    def condensed(self) -> np.ndarray:
        """All pairwise distances (float64) in SciPy's condensed order, from the features."""
        return self._fill(condensed=True)

    def square(self, idx: np.ndarray) -> np.ndarray:
        """Distance matrix among rows ``idx`` (float64)."""
        idx = np.asarray(idx, dtype=np.int64)
        if self._square_ready():
            return self.D[np.ix_(idx, idx)].astype(np.float64)
        D = self._block(idx, idx)
        np.fill_diagonal(D, 0.0)
        return D

    def pair(self, i: int, j: int) -> float:
        if i == j:
            return 0.0
        if self._square_ready():
            return float(self.D[i, j])
        d2 = self.sq[i] + self.sq[j] - 2.0 * float(self.F[i] @ self.F[j])
        return float(np.sqrt(max(d2, 0.0)))


# --------------------------------------------------------------------------- leaf order
def _tree_children(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = Z.shape[0] + 1
    left = Z[:, 0].astype(np.int64)
    right = Z[:, 1].astype(np.int64)
    size = np.r_[np.ones(n, dtype=np.int64), Z[:, 3].astype(np.int64)]
    return left, right, size


def _leaves(Z: np.ndarray, node: int) -> np.ndarray:
    """Leaves under ``node`` (any order), without recursion."""
    n = Z.shape[0] + 1
    out, stack = [], [node]
    while stack:
        x = stack.pop()
        if x < n:
            out.append(x)
        else:
            stack.extend((int(Z[x - n, 0]), int(Z[x - n, 1])))
    return np.asarray(out, dtype=np.int64)


def gw_order(Z: np.ndarray, dist: Distances) -> np.ndarray:
    """Gruvaeus & Wainer (1972, Br J Math Stat Psychol 25:200) leaf order: at each merge,
    orient the two subtrees so that the leaves that meet are the closest of the four
    possible end pairs.  Linear in the number of merges."""
    n = Z.shape[0] + 1
    left, right, _ = _tree_children(Z)
    first = np.r_[np.arange(n), np.zeros(n - 1, dtype=np.int64)]
    last = first.copy()
    flip_l = np.zeros(n - 1, dtype=bool)
    flip_r = np.zeros(n - 1, dtype=bool)
    for k in range(n - 1):
        a, b = left[k], right[k]
        best, choice = np.inf, (False, False)
        for ra in (False, True):
            ea = first[a] if ra else last[a]  # end of A facing B
            for rb in (False, True):
                sb = last[b] if rb else first[b]  # start of B facing A
                d = dist.pair(int(ea), int(sb))
                if d < best - 1e-12:
                    best, choice = d, (ra, rb)
        flip_l[k], flip_r[k] = choice
        first[n + k] = last[a] if choice[0] else first[a]
        last[n + k] = first[b] if choice[1] else last[b]
    order = []
    stack = [(2 * n - 2, False)]
    while stack:
        node, rev = stack.pop()
        if node < n:
            order.append(node)
            continue
        k = node - n
        a, ra = left[k], flip_l[k] ^ rev
        b, rb = right[k], flip_r[k] ^ rev
        # stack is LIFO: push the part that comes second first
        if rev:
            stack.extend([(a, ra), (b, rb)])
        else:
            stack.extend([(b, rb), (a, ra)])
    return np.asarray(order, dtype=np.int64)


def leaf_order(Z: np.ndarray, dist: Distances, method: str = "auto") -> tuple[np.ndarray, str]:
    """Leaf order of the tree: ``"optimal"`` (Bar-Joseph et al. 2001, :mod:`._olo`), ``"gw"``,
    ``"none"`` (fastcluster's), or ``"auto"`` (optimal up to :data:`OLO_MAX` samples)."""
    from scipy.cluster.hierarchy import leaves_list

    n = Z.shape[0] + 1
    if method == "auto":
        method = "optimal" if n <= OLO_MAX else "gw"
    if n < 3 or method == "none":
        return leaves_list(Z), method
    if method == "optimal":
        from ._olo import optimal_order

        return optimal_order(Z, dist.square(np.arange(n))), method
    if method == "gw":
        return gw_order(Z, dist), method
    raise InputError(f"unknown leaf order '{method}'; choose auto, optimal, gw or none")


# --------------------------------------------------------------------------- clones
def neighbour_silhouette(D: np.ndarray, left: np.ndarray, k: int = 10) -> tuple[float, float]:
    """Mean nearest-neighbour silhouette of each side of a two-way split.

    For sample i, ``a`` is its mean distance to its ``k`` nearest samples on its own side
    and ``b`` to its ``k`` nearest samples on the other side (``k`` capped by the side
    sizes); ``s = (b - a) / max(a, b)``.  ``D``: square distances; ``left``: boolean.
    Returns ``(mean s over the left side, mean s over the right side)``.
    """
    out = []
    for side in (left, ~left):
        m_own, m_oth = int(side.sum()), int((~side).sum())
        if m_own == 0 or m_oth == 0:
            return float("nan"), float("nan")
        if m_own == 1:
            out.append(0.0)  # Rousseeuw's convention for a singleton
            continue
        own = D[np.ix_(side, side)].copy()
        np.fill_diagonal(own, np.inf)
        oth = D[np.ix_(side, ~side)]
        k1, k2 = min(k, m_own - 1), min(k, m_oth)
        a = np.partition(own, k1 - 1, axis=1)[:, :k1].mean(axis=1)
        b = np.partition(oth, k2 - 1, axis=1)[:, :k2].mean(axis=1)
        out.append(float(((b - a) / np.maximum(np.maximum(a, b), 1e-300)).mean()))
    return out[0], out[1]


def call_clones(Z: np.ndarray, dist: Distances, *, min_clone_size: int = 2, silhouette_threshold: float = 0.25,
                neighbours: int = 10, max_silhouette_cells: int = 2000,
                seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, pd.DataFrame]:
    """Clones from the Ward tree by top-down nearest-neighbour-silhouette splits (see the
    module text).

    Returns the clones (arrays of row indices), the rows set aside (small branches passed
    on the way down to an accepted split; they join the nearest clone later) and a table
    of every examined split.
    """
    n = Z.shape[0] + 1
    rng = np.random.default_rng(seed)
    left, right, size = _tree_children(Z)
    clones: list[np.ndarray] = []
    aside: list[np.ndarray] = []
    rec = []
    stack = [2 * n - 2]
    while stack:
        top = stack.pop()
        if top < n:
            clones.append(np.array([top]))
            continue
        # follow the tree down while one child is too small to be a clone of its own
        node, peeled = top, []
        while node >= n:
            a, b = left[node - n], right[node - n]
            sa, sb = size[a], size[b]
            if min(sa, sb) >= min_clone_size or max(sa, sb) < min_clone_size:
                break
            small, big = (a, b) if sa < sb else (b, a)
            peeled.append(small)
            node = big
        if node < n or min(sa, sb) < min_clone_size:
            clones.append(_leaves(Z, top))  # nothing below can be split: one clone
            continue
        la, lb = _leaves(Z, a), _leaves(Z, b)
        if sa + sb > max_silhouette_cells:
            # proportional, seeded sample of each side
            ka = max(2, int(round(max_silhouette_cells * sa / (sa + sb))))
            kb = max(2, max_silhouette_cells - ka)
            la_s = np.sort(rng.choice(la, size=min(ka, sa), replace=False))
            lb_s = np.sort(rng.choice(lb, size=min(kb, sb), replace=False))
        else:
            la_s, lb_s = la, lb
        idx = np.r_[la_s, lb_s]
        s_a, s_b = neighbour_silhouette(dist.square(idx), np.r_[np.ones(len(la_s), bool), np.zeros(len(lb_s), bool)],
                                        k=neighbours)
        ok = bool(min(s_a, s_b) >= silhouette_threshold)  # both sides, the small one too
        rec.append((int(node), int(sa + sb), int(sa), int(sb), s_a, s_b, ok, len(peeled)))
        if ok:
            aside.extend(_leaves(Z, p) for p in peeled)
            stack.extend((b, a))
        else:
            clones.append(_leaves(Z, top))
    splits = pd.DataFrame(rec, columns=SPLIT_COLUMNS)
    set_aside = np.concatenate(aside) if aside else np.array([], dtype=np.int64)
    return clones, set_aside, splits


def cluster(matrix: ad.AnnData | np.ndarray, *, sample_ids: list[str] | None = None,
            min_clone_size: int | None = None, silhouette_threshold: float = 0.25,
            n_clones: int | None = None, neighbours: int | None = None, leaf_order_method: str = "auto",
            max_silhouette_cells: int = 2000, seed: int = 0) -> Clustering:
    """Ward/Euclidean tree, leaf order, clones and their consensus profiles.

    Parameters
    ----------
    matrix
        :func:`ctcscope.cohort.cohort_matrix` result (or a samples x bins array).  NaN is
        read as 0, i.e. the cell's ploidy.
    min_clone_size
        Smallest clone; default ``max(2, ceil(1 % of the samples))``.
    silhouette_threshold
        A node is split when both branches' mean nearest-neighbour silhouette reaches it.
    neighbours
        ``k`` of the nearest-neighbour silhouette; default ``min_clone_size - 1`` within 1..10.
    n_clones
        Instead of the silhouette rule, cut the tree into exactly this many groups.
    leaf_order_method
        ``auto`` (optimal leaf ordering up to :data:`OLO_MAX` samples, Gruvaeus-Wainer
        beyond), ``optimal``, ``gw`` or ``none``.
    """
    if isinstance(matrix, ad.AnnData):
        X = np.asarray(matrix.X)
        ids = list(map(str, matrix.obs_names)) if sample_ids is None else list(sample_ids)
        bins = list(map(str, matrix.var_names))
    else:
        X = np.asarray(matrix)
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(np.float64)
        ids = [str(i) for i in range(X.shape[0])] if sample_ids is None else list(map(str, sample_ids))
        bins = [str(j) for j in range(X.shape[1])]
    n = X.shape[0]
    if n < 2:
        raise InputError(f"clustering needs at least 2 samples, got {n}; select more samples")
    if min_clone_size is None:
        min_clone_size = max(2, int(np.ceil(0.01 * n)))
    min_clone_size = max(1, int(min_clone_size))
    if neighbours is None:
        # a sample of the smallest allowed clone has min_clone_size - 1 clone mates
        neighbours = int(np.clip(min_clone_size - 1, 1, 10))
    dist = Distances(X)
    if n <= EXACT_MAX:
        # fastcluster may overwrite the distances: they are not needed afterwards
        Z = fastcluster.linkage(dist.condensed(), method="ward", preserve_input=False)
        tree = "ward on exact Euclidean distances"
    else:
        Z, tree = _ward_pca(dist.F)
    order, olo = leaf_order(Z, dist, leaf_order_method)
    if n_clones is not None:
        lab = fcluster(Z, t=int(n_clones), criterion="maxclust")
        clones_idx = [np.flatnonzero(lab == k) for k in np.unique(lab)]
        aside = np.array([], dtype=np.int64)
        splits = pd.DataFrame(columns=SPLIT_COLUMNS)
        rule = f"fixed: {int(n_clones)} groups (maxclust cut)"
    else:
        clones_idx, aside, splits = call_clones(Z, dist, min_clone_size=min_clone_size,
                                                silhouette_threshold=silhouette_threshold, neighbours=neighbours,
                                                max_silhouette_cells=max_silhouette_cells, seed=seed)
        rule = (f"top-down splits of the Ward tree while both branches' mean {neighbours}-nearest-neighbour "
                f"silhouette >= {silhouette_threshold} and both hold >= {min_clone_size} samples")
    lab = np.full(n, -1, dtype=np.int64)
    for k, idx in enumerate(clones_idx):
        lab[idx] = k
    assigned = np.full(n, "tree", dtype=object)
    if len(aside):
        # set-aside samples join the clone with the nearest mean profile
        cent = np.vstack([nan_to_zero(X[idx]).mean(axis=0) for idx in clones_idx])
        Xa = nan_to_zero(X[aside])
        d2 = (Xa ** 2).sum(1)[:, None] + (cent ** 2).sum(1)[None, :] - 2 * Xa @ cent.T
        lab[aside] = np.argmin(d2, axis=1)
        assigned[aside] = "nearest"
    # name clones C1, C2, ... by where they first appear from the top of the heatmap
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    firsts = np.array([pos[lab == k].min() for k in range(len(clones_idx))])
    rank = np.empty(len(firsts), dtype=np.int64)
    rank[np.argsort(firsts)] = np.arange(len(firsts))
    clones = np.array([f"C{rank[k] + 1}" for k in lab], dtype=object)
    names = [f"C{i + 1}" for i in range(len(clones_idx))]
    # medians on runs of columns equal in every sample (exact; far fewer columns)
    run_start = np.flatnonzero(np.r_[True, np.any((X[:, 1:] != X[:, :-1]) & ~(np.isnan(X[:, 1:]) & np.isnan(X[:, :-1])),
                                                  axis=0)]) if X.shape[1] > 1 else np.zeros(X.shape[1], dtype=np.int64)
    run_len = np.diff(np.r_[run_start, X.shape[1]])
    Xr = X[:, run_start]
    cons = np.vstack([np.repeat(nanmedian_columns(Xr[clones == c]), run_len) for c in names])
    consensus = pd.DataFrame(cons.astype(np.float32), index=names, columns=bins)
    params = {"method": "ward", "metric": "euclidean", "tree": tree, "leaf_order": olo, "clone_rule": rule,
              "min_clone_size": int(min_clone_size), "silhouette_threshold": float(silhouette_threshold),
              "max_silhouette_cells": int(max_silhouette_cells), "neighbours": int(neighbours), "seed": int(seed), "n_clones": len(names),
              "n_set_aside": int(len(aside))}
    return Clustering(sample_ids=ids, linkage=Z, order=np.asarray(order, dtype=np.int64), clones=clones,
                      assigned=assigned, consensus=consensus, splits=splits, params=params)


def _ward_pca(F: np.ndarray, n_components: int = 100) -> tuple[np.ndarray, str]:
    """Ward on the leading principal components (memory O(n d)) for very large cohorts."""
    from sklearn.decomposition import PCA

    k = int(min(n_components, F.shape[0] - 1, F.shape[1]))
    P = PCA(n_components=k, svd_solver="randomized", random_state=0).fit_transform(F)
    return fastcluster.linkage_vector(P, method="ward"), f"ward on {k} principal components (n > {EXACT_MAX})"
