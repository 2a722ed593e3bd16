"""Ward clustering of the cohort matrix, leaf ordering, clone calls and clone consensus.

The tree is the study's: Euclidean distance and Ward linkage on the log2 relative copy
number (Oulhen et al. 2021, npj Precis Oncol 5:71, Methods "Hierarchical clustering"),
computed with fastcluster (Müllner 2013, J Stat Softw 53(9), doi:10.18637/jss.v053.i09).

Clones are read off the tree in two steps.

1. Top-down splits.  Starting at the root, a node is split into its two branches when
   both hold at least ``min_clone_size`` samples and both are well separated: the mean
   silhouette (Rousseeuw 1987, J Comput Appl Math 20:53, doi:10.1016/0377-0427(87)90125-7)
   of each branch reaches ``silhouette_threshold`` (0.25, the bound below which Kaufman &
   Rousseeuw 1990 find "no substantial structure").  The silhouette is taken in its
   nearest-neighbour form: for a sample, ``a`` is the mean distance to its ``k`` nearest
   samples in its own branch and ``b`` to its ``k`` nearest samples in the other branch,
   ``s = (b - a) / max(a, b)``, with ``k = min_clone_size - 1`` (between 1 and 10: a
   member of the smallest allowed clone has that many clone mates).  When one branch is
   smaller than ``min_clone_size`` the larger one is examined in its place; if a split is
   accepted further down, the small branches passed on the way are set aside and join
   the group of their nearest sample, otherwise the whole node is one group.
2. Membership.  A member whose nearest clone mate is farther than half the group's
   (median) distance to the nearest other group is not a member: it leaves the group
   ("unassigned"), and the rest of the group is split again (step 1 on the tree
   restricted to it).  In groups of 10 or more the member must also be farther than
   twice the group's median nearest-mate distance: noisy data (the real CopyKit BL1 cells)
   put ordinary members of a clone at about half the distance to the next clone.  Groups
   left with fewer than ``min_clone_size`` samples dissolve.  Repeat until stable.

Clones are called within each patient (cells of two patients come from two tumours), and
only single cells form clones (pools and biopsies are mixtures of cells: they are in the
tree and the heatmap, with clone ``unassigned`` and assignment ``not_single_cell``).

Why this rule: the silhouette is free of scale (it compares distances with distances, so
it does not depend on the grid, the noise level or the number of cells) and needs neither
a null model nor re-clustering of resamples, so it stays cheap at 10,000 cells (large
nodes are scored on a seeded sample of ``max_silhouette_cells``).  Requiring *both*
branches to pass keeps a clone whole when some of its cells are noisier than others (a
"core" and a "periphery" are not two clones).  The nearest-neighbour form is needed
because the ordinary silhouette averages over whole branches: a branch that holds
several far-apart patients, or one large diffuse clone, scores low against a tight
sibling although the boundary between them is clean (on the real CopyKit BL1 cells the
ordinary silhouette keeps every tumour subclone together; on simulated cohorts it merges
a patient with its neighbours).  Step 2 exists for CTC cohorts, where many cells are
unique: a few unrelated cells scattered in one branch would otherwise block the split
of the clones beside them and be called a clone themselves.
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
#: A member whose nearest clone mate is farther than this fraction of the clone's
#: (median) distance to the nearest other group leaves the clone.
GAP = 0.5
#: ... and, in a clone of at least SPREAD_MIN_MEMBERS, farther than this many times the
#: clone's median nearest-mate distance (so a noisy clone keeps its ordinary members;
#: a smaller clone's own spread cannot be told from the scatter of unrelated cells).
SPREAD = 2.0
SPREAD_MIN_MEMBERS = 10
UNASSIGNED = "unassigned"
SPLIT_COLUMNS = ["tree_size", "size", "size_left", "size_right", "silhouette_left", "silhouette_right", "accepted",
                 "n_small_branches"]


@dataclass
class Clustering:
    """Result of :func:`cluster`.  Row ``i`` of every array is sample ``sample_ids[i]``."""

    sample_ids: list[str]
    linkage: np.ndarray                 # (n-1, 4) scipy/fastcluster linkage matrix
    order: np.ndarray                   # leaf order: row indices from top to bottom
    clones: np.ndarray                  # clone label per row ("C1", "C2", ... in leaf order)
    assigned: np.ndarray                # tree | nearest (set aside, joined the nearest) | unassigned | not_single_cell
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

    def __init__(self, X: np.ndarray, square_max: int | None = None, block: int = 1024):
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
        self.square_max = SQUARE_MAX if square_max is None else square_max
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

    def cross(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Distances from samples ``rows`` to samples ``cols``."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        if self._square_ready():
            return self.D[np.ix_(rows, cols)].astype(np.float64)
        return self._block(rows, cols)

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


def induced_linkage(Z: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The tree restricted to the leaves ``keep`` (sorted global indices): removed leaves are
    pruned and nodes left with one child contracted; merge heights are kept.  Leaf ``i`` of
    the result is ``keep[i]``."""
    n = Z.shape[0] + 1
    m = len(keep)
    rep = np.full(2 * n - 1, -1, dtype=np.int64)
    rep[keep] = np.arange(m)
    size = np.zeros(2 * m - 1, dtype=np.int64)
    size[:m] = 1
    out = np.empty((max(m - 1, 0), 4))
    c = 0
    for k in range(n - 1):
        ra, rb = rep[int(Z[k, 0])], rep[int(Z[k, 1])]
        if ra >= 0 and rb >= 0:
            out[c] = (ra, rb, Z[k, 2], size[ra] + size[rb])
            size[m + c] = size[ra] + size[rb]
            rep[n + k] = m + c
            c += 1
        else:
            rep[n + k] = max(ra, rb)
    return out


def split_tree(Z: np.ndarray, leaves: np.ndarray, dist: Distances, *, min_clone_size: int,
               silhouette_threshold: float, neighbours: int, max_silhouette_cells: int,
               rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray], list[tuple]]:
    """Top-down splits of tree ``Z`` whose leaf ``i`` is sample ``leaves[i]`` (see the
    module text).  Returns groups and set-aside branches (global sample indices) and the
    examined splits."""
    n = Z.shape[0] + 1
    if n == 1:
        return [np.asarray(leaves)], [], []
    left, right, size = _tree_children(Z)
    groups: list[np.ndarray] = []
    aside: list[np.ndarray] = []
    rec = []
    stack = [2 * n - 2]
    while stack:
        top = stack.pop()
        if top < n:
            groups.append(leaves[[top]])
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
            groups.append(leaves[_leaves(Z, top)])  # nothing below can be split: one group
            continue
        la, lb = leaves[_leaves(Z, a)], leaves[_leaves(Z, b)]
        if peeled:
            # the split is judged for the whole node: small branches passed on the way
            # down count with the side of their nearest sample
            small = np.concatenate([leaves[_leaves(Z, p)] for p in peeled])
            sides = np.r_[la, lb]
            near = sides[np.argmin(dist.cross(small, sides), axis=1)]
            to_a = np.isin(near, la)
            la, lb = np.r_[la, small[to_a]], np.r_[lb, small[~to_a]]
            sa, sb = len(la), len(lb)
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
        rec.append((int(len(leaves)), int(sa + sb), int(sa), int(sb), s_a, s_b, ok, len(peeled)))
        if ok:
            aside.extend(leaves[_leaves(Z, p)] for p in peeled)
            stack.extend((b, a))
        else:
            groups.append(leaves[_leaves(Z, top)])
    return groups, aside, rec


def call_clones(Z: np.ndarray, dist: Distances, *, min_clone_size: int = 2, silhouette_threshold: float = 0.25,
                neighbours: int = 1, max_silhouette_cells: int = 2000, seed: int = 0,
                callable_: np.ndarray | None = None, groups_of: np.ndarray | None = None,
                max_rounds: int = 20) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Clones from the Ward tree (see the module text).

    ``callable_``: boolean mask of the samples that may form clones (single cells; pools
    and biopsies are mixtures); the others get -1 and ``not_single_cell``.
    ``groups_of``: a label per sample (the patient); clones never span two labels.
    Returns each sample's clone index (-1: in no clone), how it got there (``tree``,
    ``nearest``, ``unassigned`` or ``not_single_cell``) and a table of every examined split.
    """
    n = Z.shape[0] + 1
    rng = np.random.default_rng(seed)
    opts = dict(min_clone_size=min_clone_size, silhouette_threshold=silhouette_threshold, neighbours=neighbours,
                max_silhouette_cells=max_silhouette_cells, rng=rng)
    cand = np.arange(n) if callable_ is None else np.flatnonzero(callable_)
    how = np.full(n, "tree", dtype=object)
    lab = np.full(n, -1, dtype=np.int64)
    if len(cand) == 0:
        how[:] = "not_single_cell"
        return lab, how, pd.DataFrame(columns=SPLIT_COLUMNS)
    groups, aside, rec = [], [], []
    if groups_of is None:
        parts = [cand]
    else:
        g_of = np.asarray(groups_of).astype(str)[cand]
        parts = [cand[g_of == g] for g in pd.unique(g_of)]
    for part in parts:
        Zc = Z if len(part) == n else induced_linkage(Z, part)
        g_, a_, r_ = split_tree(Zc, part, dist, **opts)
        groups += g_
        aside += a_
        rec += r_
    lab = np.full(n, -1, dtype=np.int64)
    for k, g in enumerate(groups):
        lab[g] = k
    aside = np.concatenate(aside) if aside else np.array([], dtype=np.int64)
    if len(aside) and (lab >= 0).any():
        # set-aside samples join the group of their nearest sample (of the same patient)
        members = np.flatnonzero(lab >= 0)
        D = dist.cross(aside, members)
        if groups_of is not None:
            gl = np.asarray(groups_of).astype(str)
            D[gl[aside][:, None] != gl[members][None, :]] = np.inf
        best = np.argmin(D, axis=1)
        ok = np.isfinite(D[np.arange(len(aside)), best])
        lab[aside[ok]] = lab[members[best[ok]]]
        how[aside[ok]] = "nearest"
    next_id = len(groups)
    for _ in range(max_rounds):
        changed = False
        for k in np.unique(lab[lab >= 0]):
            M = np.flatnonzero(lab == k)
            if len(M) < max(2, min_clone_size):
                lab[M] = -1
                changed = True
                continue
            others = np.flatnonzero((lab >= 0) & (lab != k))
            if not len(others):
                continue  # a single group: nothing to measure a gap against
            Dm = dist.square(M)
            np.fill_diagonal(Dm, np.inf)
            nn = Dm.min(axis=1)
            Do = dist.cross(M, others)
            gap = float(np.median(Do.min(axis=1)))
            limit = GAP * gap
            if len(M) >= SPREAD_MIN_MEMBERS:
                limit = max(limit, SPREAD * float(np.median(nn)))
            far = nn > limit
            if not far.any():
                continue
            # members farther from every clone mate than half the clone's distance to the
            # nearest other group (and, in larger clones, than twice the clone's usual
            # nearest-mate distance) are not members; the rest is split again on its own tree
            changed = True
            lab[M[far]] = -1
            rest = M[~far]
            if len(rest) < max(2, min_clone_size):
                lab[rest] = -1
                continue
            sub, sub_aside, sub_rec = split_tree(induced_linkage(Z, rest), rest, dist, **opts)
            rec.extend(sub_rec)
            for g in sub:
                lab[g] = next_id
                next_id += 1
            for g in sub_aside:
                lab[g] = -1
        if not changed:
            break
    how[lab < 0] = UNASSIGNED
    if callable_ is not None:
        how[~np.asarray(callable_, bool)] = "not_single_cell"
    splits = pd.DataFrame(rec, columns=SPLIT_COLUMNS)
    return lab, how, splits


def cluster(matrix: ad.AnnData | np.ndarray, *, sample_ids: list[str] | None = None,
            min_clone_size: int | None = None, silhouette_threshold: float = 0.25,
            n_clones: int | None = None, neighbours: int | None = None, leaf_order_method: str = "auto",
            max_silhouette_cells: int = 2000, clone_samples: np.ndarray | None = None, by_patient: bool = True,
            seed: int = 0) -> Clustering:
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
    clone_samples
        Boolean mask of the samples that may form clones; default: single cells
        (``obs['sample_type'] == 'ctc'`` when the matrix has it, else all).  Pools and
        biopsies are mixtures of cells: they are placed in the tree but get no clone.
    by_patient
        Call clones within each patient (``obs['patient']``): cells of two patients come
        from two tumours and cannot share a clone, however alike their profiles.
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
        lab = fcluster(Z, t=int(n_clones), criterion="maxclust") - 1
        assigned = np.full(n, "tree", dtype=object)
        splits = pd.DataFrame(columns=SPLIT_COLUMNS)
        rule = f"fixed: {int(n_clones)} groups (maxclust cut)"
    else:
        patients = None
        if by_patient and isinstance(matrix, ad.AnnData) and "patient" in matrix.obs:
            patients = matrix.obs["patient"].astype(str).to_numpy()
        if clone_samples is None and isinstance(matrix, ad.AnnData) and "sample_type" in matrix.obs:
            clone_samples = (matrix.obs["sample_type"].astype(str).str.lower() == "ctc").to_numpy()
        lab, assigned, splits = call_clones(Z, dist, min_clone_size=min_clone_size,
                                            silhouette_threshold=silhouette_threshold, neighbours=neighbours,
                                            max_silhouette_cells=max_silhouette_cells, seed=seed,
                                            callable_=None if clone_samples is None
                                            else np.asarray(clone_samples, bool), groups_of=patients)
        rule = (f"top-down splits of the Ward tree while both branches' mean {neighbours}-nearest-neighbour "
                f"silhouette >= {silhouette_threshold} and both hold >= {min_clone_size} samples; members "
                f"farther from every clone mate than {GAP} x the clone's distance to other clones (and, from "
                f"{SPREAD_MIN_MEMBERS} members, {SPREAD} x its median nearest-mate distance) left unassigned")
    # name clones C1, C2, ... by where they first appear from the top of the heatmap
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    kept = np.unique(lab[lab >= 0])
    firsts = np.array([pos[lab == k].min() for k in kept])
    name_of = {int(k): f"C{r + 1}" for r, k in enumerate(kept[np.argsort(firsts)])}
    clones = np.array([name_of.get(int(k), UNASSIGNED) for k in lab], dtype=object)
    names = [f"C{i + 1}" for i in range(len(kept))]
    # medians on runs of columns equal in every sample (exact; far fewer columns)
    run_start = np.flatnonzero(np.r_[True, np.any((X[:, 1:] != X[:, :-1]) & ~(np.isnan(X[:, 1:]) & np.isnan(X[:, :-1])),
                                                  axis=0)]) if X.shape[1] > 1 else np.zeros(X.shape[1], dtype=np.int64)
    run_len = np.diff(np.r_[run_start, X.shape[1]])
    Xr = X[:, run_start]
    cons = np.vstack([np.repeat(nanmedian_columns(Xr[clones == c]), run_len) for c in names])
    consensus = pd.DataFrame(cons.astype(np.float32), index=names, columns=bins)
    params = {"method": "ward", "metric": "euclidean", "tree": tree, "leaf_order": olo, "clone_rule": rule,
              "min_clone_size": int(min_clone_size), "silhouette_threshold": float(silhouette_threshold),
              "max_silhouette_cells": int(max_silhouette_cells), "neighbours": int(neighbours), "seed": int(seed),
              "n_clones": len(names),
              "n_set_aside": int((assigned == "nearest").sum()), "n_unassigned": int((clones == UNASSIGNED).sum())}
    return Clustering(sample_ids=ids, linkage=Z, order=np.asarray(order, dtype=np.int64), clones=clones,
                      assigned=assigned, consensus=consensus, splits=splits, params=params)


def _ward_pca(F: np.ndarray, n_components: int = 100) -> tuple[np.ndarray, str]:
    """Ward on the leading principal components (memory O(n d)) for very large cohorts."""
    from sklearn.decomposition import PCA

    k = int(min(n_components, F.shape[0] - 1, F.shape[1]))
    P = PCA(n_components=k, svd_solver="randomized", random_state=0).fit_transform(F)
    return fastcluster.linkage_vector(P, method="ward"), f"ward on {k} principal components (n > {EXACT_MAX})"
