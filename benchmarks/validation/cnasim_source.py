"""Validation source ``cnasim``: cohorts whose truth comes from the third-party simulator CNAsim.

CNAsim (Weiner & Bansal, Bioinformatics 2023, doi:10.1093/bioinformatics/btad434; PyPI
``cnasim``, tested with 1.3.5) is run in-process, unmodified apart from the shims listed
below, and its own outputs (``profiles.tsv``, ``readcounts.tsv``, ``cell_types.tsv``) become
the cohort.  Nothing from ``ctcscope.simulate`` is used.

    python benchmarks/validation/cnasim_source.py [--seeds 1-3] [--cells 60] [--controls 0]
                                                  [--hexaploid] [--no-engine] [--keep DIR]

Seeds: the project uses seeds 1-5 for tuning (``split="tune"``) and 101 and up for
held-out scoring (``split="holdout"``); a cohort depends only on its own seed.

How CNAsim makes whole-genome doublings (read from CNAsim 1.3.5's ``sim_genomes.py``)
------------------------------------------------------------------------------------
With ``-w`` CNAsim doubles exactly once, at the *founder* (the tumour's most recent common
ancestor), before any other event: every chromosome copy of the still-diploid genome is
duplicated, then the founder's chromosome-arm/whole-chromosome and focal events follow, so
every tumour cell of a ``-w`` run is a doubled cell and every CNAsim event is after the
doubling.  CNAsim never doubles a subclone or a non-diploid ancestor and its event logs do not
list the doubling (only ``log.txt`` has ``WGD: True``).  A CNAsim run therefore holds either
~2n or ~4n tumour cells, so one cohort here is several CNAsim runs ("lineages") of one
patient, each an independent tumour tree:

* ``normal``: ``-n1 1`` (flat diploid cells; CNAsim's ``normal`` cell type).  A separate run
  because CNAsim 1.3.5 gives the founder no focal events at all when ``-n1`` > 0;
* ``2n``: no doubling; CNAsim's event model at its defaults except ``-p1`` (drawn 1-3 per
  lineage): Poisson(2) founder chromosome-level events (75 % arm-level, half gains),
  10 x ``p1`` founder focal events, Poisson(``p1``) focal events on every later edge (the
  cells' private events), ``-c 1`` clone with >= 1 arm/chromosome event, and Poisson(1)
  chromosome-level events on each edge out of the founder ("super-clones");
* ``4n``: the same with ``-w``;
* ``3n``: ``-w`` with 30 founder chromosome-level events, 90 % losses, half arm-level
  (``-i 30 -u 0.1 -q 0.5``): doubling followed by losses, the usual route to near-triploidy.
  These cells have a doubling record (``wgd`` = 1) but a base ploidy of 3 (``wgd_rule`` = 0).

Tumour cells are split between the three lineages by a Dirichlet(3, 3, 3) draw (at least 5
cells each), 5-15 % of ``n_cells`` are normal cells.  Each tumour lineage is re-drawn (new
CNAsim seed, at most 25 times) until its founder's modal copy number over CNAsim's regions
is the lineage's target (2, 3 or 4) and at most 0.5 % of it has no copy left (heavy losses
can otherwise remove every copy of a whole chromosome, which no viable cell does); the
cells' truth is then taken from their own profiles, whatever it is (seed 2's ``3n`` lineage
holds doubled cells of modal copy number 2, for example).

Hexaploid-like cells (a doubling of a ~3n ancestor) are beyond CNAsim.  ``hexaploid=True``
(off by default) adds them with our one extension: in the ``3n`` lineage, the CNAsim clone
founder (or founder child) whose subtree is nearest half the lineage's cells has every
chromosome copy duplicated (the operation CNAsim applies at its founder, applied to all
copies) just before that clone's own events, so its cells are ~6n with private events after
the second doubling (``n_wgd`` = 2).

Reads: CNAsim mode 1, its own read model
----------------------------------------
CNAsim's ``-m 1`` read counts: each chromosome copy is cut into 1 Mb windows, a coverage
multiplier 2*Beta(a, a) is drawn per window with a fitted to a Lorenz-curve point
(``-X 0.5 -Y y``), smoothed with cubic Bezier curves through every 3rd window, and Poisson
reads drawn per window; reads follow the copy number of the 100 kb regions
(``-k 100000``) and are summed into 500 kb bins (``-B``).  ``y`` is drawn per cohort,
uniform in ``lorenz_y`` = (0.38, 0.45) around CNAsim's default 0.40.  It sets the
megabase-scale waviness: the multiplier's CV is 0.13 at y = 0.45, 0.25 at 0.40, 0.34 at 0.36
and 0.47 at 0.30, and because every chromosome *copy* gets its own draw, a cell's relative
waviness falls as 1/sqrt(copies) (a 2n cell is about 1.4 times as wavy as a 4n cell).
Runs use coverage ``-C 0.6`` (about 5.8 M reads for a diploid cell), then each cell is
thinned binomially to its own depth, log-uniform in 0.3-4 M reads (``reads=``; thinning a
Poisson count is again Poisson, so this is CNAsim's model at a lower coverage; cells with
fewer reads than their target are kept whole).  CNAsim's model has no GC or mappability
effect; ``gc_bias`` > 0 (default 0) adds one of our own, independent of ``ctcscope.simulate``:
per cell, log rate += b1*(gc - 0.42) + b2*(gc - 0.42)**2 with b1 ~ N(0, 3*gc_bias),
b2 ~ N(0, 30*gc_bias), applied by thinning.  CNAsim counts every bin alike (no N-gaps);
the bins ctcscope marks unusable keep those counts and are ignored by the engine.

Shims (same output, faster): ``scipy.stats.poisson.rvs(mu)`` is replaced by
``numpy.random.poisson(mu)`` (scipy draws from the same global numpy stream, so every number
is identical) and CNAsim's Bezier evaluator by the same cubic in plain floats; the profiles
of internal tree nodes (``ancestral_profiles.tsv``, a quarter of the run time, no random
draws) are not computed unless ``ancestors=True``; msprime, which CNAsim calls without a
seed, gets one from numpy's stream so runs are reproducible; CNAsim 1.3.5 crashes writing
``focal_events.tsv`` when a focal event starts at a centromere marker (``ref_idx`` 'X'), so
such events are written with ``ref_idx`` -1.  ``tests/test_validation_cnasim.py`` checks that
the shimmed output is byte-identical to CNAsim's.

Bins: CNAsim's ``-U`` ("hg38 static") genome is 22 autosomes with GRCh37/hg19 lengths and
centromeres (e.g. chr1 249,250,621 bp), not hg38.  CNAsim bins are [i*B, (i+1)*B) from 0
with the last bin of a chromosome merged or partial; ctcscope's bins are also 0-based
[start, end) from 0.  A ctcscope bin is kept when CNAsim has a bin with the same chromosome,
start and end, so the cohort's var is ctcscope's bins minus X, Y and the chromosome-end bins
the two do not share: 38 of 5,760 autosomal 500 kb bins on hg38 (15 of them usable), 35 on
hg19.  In the kept bins truth and counts are exactly CNAsim's.

Truth (``Cohort.truth``): ``ploidy`` = modal copy number over usable autosomal bins, weighted
by bin length; ``wgd`` = CNAsim's doubling record (the run had ``-w``, or the hexaploid
extension; normal cells 0); ``wgd_rule`` = ploidy >= 4; ``n_wgd``; ``mean_cn``; ``clone``
(lineage plus CNAsim's clone label from ``cell_types.tsv``); ``lineage``; ``normal_cell``;
``cnasim_cell``; ``reads``.  CNAsim normal cells are ``sample_type`` "ctc" (normal cells
among the captured cells, unknown to the engine), scored, ploidy 2.  ``controls=k`` adds k
leukocyte-like controls (``wbc``, flat diploid cells from the same normal run and read
model), scored as 2n.  ``Cohort.cn`` is CNAsim's integer copy number (allele A + B) per bin.

Speed (measured on a 2-core machine shared with other jobs): a 60-cell cohort costs 13-20 s
of CPU in all (``uns['cnasim']['cpu_seconds']``; CNAsim's own read-count loop is most of it)
and took 13-16 s of wall time with ``workers=2`` at a load average of ~4, 25-40 s at ~7; the
20-sample test cohort costs 8 s of CPU (19-28 s of wall time on the loaded machine).
Unshimmed, CNAsim alone needs about twice the CPU.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

import anndata as ad
import numpy as np
import pandas as pd

try:
    from .common import Cohort
except ImportError:  # loaded by path (tests, __main__)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import Cohort

SOURCE = "cnasim"
REGION = 100_000          # CNAsim -k: event resolution (bp)
COVERAGE = 0.6            # CNAsim -C before per-cell thinning
MAX_TRIES = 25            # founder redraws per lineage
MAX_NULLISOMY = 0.005     # founders with more of the genome at copy number 0 are redrawn
THREE_N = ["-i", "30", "-u", "0.1", "-q", "0.5"]


# ---------------------------------------------------------------------------------------
# running CNAsim
# ---------------------------------------------------------------------------------------

class _Reject(Exception):
    """The founder's modal copy number missed the lineage's target."""


class _Seeded:
    """Stands in for ``msprime`` inside CNAsim's tree module: seeds ``sim_ancestry`` from numpy."""

    def __init__(self, ms):
        self._ms = ms

    def __getattr__(self, name):
        return getattr(self._ms, name)

    def sim_ancestry(self, *args, **kwargs):
        kwargs.setdefault("random_seed", int(np.random.randint(1, 2**31 - 1)))
        return self._ms.sim_ancestry(*args, **kwargs)


class _NumpyPoisson:
    """``scipy.stats.poisson.rvs(mu)`` draws ``numpy.random.poisson(mu)`` from the global stream."""

    @staticmethod
    def rvs(mu):
        return np.random.poisson(mu)


def _bezier(a, b, c, d):
    """The cubic Bezier through control points a-d, evaluated in floats (returns (x, y))."""
    a0, a1, b0, b1 = float(a[0]), float(a[1]), float(b[0]), float(b[1])
    c0, c1, d0, d1 = float(c[0]), float(c[1]), float(d[0]), float(d[1])

    def f(t):
        u = 1.0 - t
        w0, w1, w2, w3 = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
        return (w0 * a0 + w1 * b0 + w2 * c0 + w3 * d0, w0 * a1 + w1 * b1 + w2 * c1 + w3 * d1)

    return f


def _region_counts(genome) -> dict:
    """Number of regions of each chromosome of an (intact) CNAsim genome."""
    return {chrom: 1 + max(int(r) for al in alleles for hom in al for r in hom if r != "X")
            for chrom, alleles in genome.items()}


def _cn_histogram(genome, n_regions: dict) -> np.ndarray:
    """Regions of a CNAsim genome (chrom -> alleles -> copies) by total copy number (0-63)."""
    hist = np.zeros(64)
    for chrom, alleles in genome.items():
        tot = np.zeros(n_regions[chrom], dtype=np.int64)
        for al in alleles:
            for hom in al:
                tot += np.bincount(np.asarray([r for r in hom if r != "X"], dtype=np.int64), minlength=len(tot))
        hist += np.bincount(np.minimum(tot, 63), minlength=64)
    return hist


@contextlib.contextmanager
def _cnasim_patched(target: int | None, double_clone: bool, state: dict, ancestors: bool = False):
    """Apply the shims (see the module docstring) and restore everything afterwards."""
    import msprime
    import CNAsim.main as M
    import CNAsim.reads as R
    import CNAsim.sim_genomes as S
    import CNAsim.tree as T

    saved = dict(poisson=R.poisson, bez=R.single_cubic_bezier, ms=T.ms, mutate=S.mutate_genome,
                 record=M.record_events, anc=M.prepare_ancestral_profiles, save_anc=M.save_CN_profiles_ancestors,
                 argv=sys.argv, rng=np.random.get_state())
    mutate = S.mutate_genome

    def mutate_genome(node, args, chrom_names):
        if node is state.get("double_node"):
            for chrom in chrom_names:
                for allele in (0, 1):
                    node.genome[chrom][allele] += [list(h) for h in node.genome[chrom][allele]]
        if node.cell_type == "founder":
            n_regions = _region_counts(node.genome)  # CNAsim's founder starts from the intact diploid
        mutate(node, args, chrom_names)
        if node.cell_type == "founder":
            if target is not None:
                hist = _cn_histogram(node.genome, n_regions)
                if int(np.argmax(hist)) != target or hist[0] > MAX_NULLISOMY * hist.sum():
                    raise _Reject(int(np.argmax(hist)))
            if double_clone:  # the CNAsim clone (or founder child) nearest half the tumour cells
                clones = [n for n in node.iter_descendants() if n.cell_type == "clone"]
                clones += [c for c in node.children if not c.is_leaf() and c not in clones] or list(node.children)
                half = len(node) / 2
                state["double_node"] = min(clones, key=lambda n: abs(len(n) - half))  # first such, CNAsim's order
                state["doubled"] = {leaf.name for leaf in state["double_node"].get_leaves()}

    def record_events(tree, region_length, out_path):
        for n in tree.iter_descendants():
            for e in n.events:
                if getattr(e, "category", None) == 0 and not isinstance(e.ref_idx, (int, np.integer)):
                    e.ref_idx = -1
        return saved["record"](tree, region_length, out_path)

    def prepare_ancestral_profiles(tree, args, chrom_names, num_regions, bins=None):
        for node in tree.iter_preorder():  # what CNAsim does, less the profiles nobody reads
            if not node.is_leaf():
                os.remove(os.path.join(args["out_path"], node.name + ".pkl"))

    R.poisson, R.single_cubic_bezier, T.ms = _NumpyPoisson, _bezier, _Seeded(msprime)
    S.mutate_genome, M.record_events = mutate_genome, record_events
    if not ancestors:
        M.prepare_ancestral_profiles, M.save_CN_profiles_ancestors = prepare_ancestral_profiles, lambda *a, **k: None
    limits = contextlib.nullcontext()
    try:  # CNAsim solves many small linear systems: one BLAS thread is fastest
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(1)
    except ImportError:
        pass
    try:
        with limits:
            yield M
    finally:
        R.poisson, R.single_cubic_bezier, T.ms = saved["poisson"], saved["bez"], saved["ms"]
        S.mutate_genome, M.record_events, sys.argv = saved["mutate"], saved["record"], saved["argv"]
        M.prepare_ancestral_profiles, M.save_CN_profiles_ancestors = saved["anc"], saved["save_anc"]
        np.random.set_state(saved["rng"])


def _read_matrix(path: Path, value) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """CNAsim's per-bin tables (rows: chrom, bin, cell) as cells, bins and a cells x bins array."""
    t = pd.read_csv(path, sep="\t", dtype={"chrom": str, "CELL": str})
    cells = list(pd.unique(t.CELL))
    nb = len(t) // len(cells)
    if nb * len(cells) != len(t) or not (t.CELL.to_numpy().reshape(nb, len(cells)) == np.asarray(cells)).all():
        raise RuntimeError(f"unexpected row order in {path}")
    bins = t.iloc[:: len(cells)][["chrom", "start", "end"]].reset_index(drop=True)
    return cells, bins, value(t).reshape(nb, len(cells)).T


def run_cnasim(flags: list[str], seed: int, *, target: int | None = None, double_clone: bool = False,
               keep: str | os.PathLike | None = None, ancestors: bool = False) -> dict:
    """Run CNAsim once (in this process) and read its outputs.

    ``flags``: CNAsim command-line options (without ``-o``).  The run is redrawn with new
    seeds until the founder's modal copy number is ``target`` (if given).  Returns cells (leaf
    names), bins (chrom, start, end of CNAsim's bins), ``cn`` and ``counts`` (cells x bins,
    allele A + B), cell types, the set of leaves under an extra doubling, the CNAsim seed and
    the number of attempts.  ``keep``: copy CNAsim's output directory there.  ``ancestors``:
    let CNAsim write ``ancestral_profiles.tsv`` (skipped by default: a quarter of the time).
    """
    for attempt in range(MAX_TRIES if target is not None else 1):
        cseed = int(np.random.SeedSequence([seed, attempt]).generate_state(1)[0] % (2**31 - 1))
        state: dict = {}
        with tempfile.TemporaryDirectory(prefix="cnasim_") as tmp:
            try:
                with _cnasim_patched(target, double_clone, state, ancestors) as M, \
                        contextlib.redirect_stdout(io.StringIO()):
                    np.random.seed(cseed)
                    sys.argv = ["cnasim", "-o", tmp] + [str(f) for f in flags]
                    M.main()
            except _Reject:
                continue
            out = Path(tmp)
            cells, bins, counts = _read_matrix(out / "readcounts.tsv",
                                               lambda t: (t.Acount + t.Bcount).to_numpy(np.int64))
            cells2, bins2, cn = _read_matrix(out / "profiles.tsv", lambda t: t["CN states"].str.split(",", expand=True)
                                             .astype(np.int64).sum(axis=1).to_numpy())
            if cells2 != cells or not bins2.equals(bins):
                raise RuntimeError("CNAsim profiles and read counts disagree on cells or bins")
            types = pd.read_csv(out / "cell_types.tsv", sep="\t", header=None, names=["node", "type"], dtype=str)
            if keep is not None:
                shutil.copytree(out, keep, dirs_exist_ok=True)
        return dict(cells=cells, bins=bins, cn=cn, counts=counts,
                    cell_type=types.set_index("node")["type"].reindex(cells).to_numpy(),
                    doubled=state.get("doubled", set()), cnasim_seed=cseed, attempts=attempt + 1,
                    wgd="-w" in flags)
    raise RuntimeError(f"CNAsim founder never reached modal copy number {target} in {MAX_TRIES} draws")


def _run_jobs(jobs: list[dict], workers: int) -> list[dict]:
    """Run CNAsim jobs, in up to ``workers`` forked processes."""
    if workers <= 1 or len(jobs) == 1 or not hasattr(os, "fork"):
        return [run_cnasim(**{k: v for k, v in j.items() if k != "cost"}) for j in jobs]
    import multiprocessing as mp
    import pickle

    ctx = mp.get_context("fork")
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i]["cost"])
    share: list[list[int]] = [[] for _ in range(min(workers, len(jobs)))]
    load = [0.0] * len(share)
    for i in order:  # longest first onto the least-loaded worker
        w = int(np.argmin(load))
        share[w].append(i)
        load[w] += jobs[i]["cost"]

    def work(idx, conn):
        try:
            conn.send_bytes(pickle.dumps([(i, run_cnasim(**{k: v for k, v in jobs[i].items() if k != "cost"}))
                                          for i in idx]))
        except BaseException as e:  # hand the error to the parent
            conn.send_bytes(pickle.dumps(e))
        finally:
            conn.close()

    procs = []
    for idx in share:
        rd, wr = ctx.Pipe(duplex=False)
        p = ctx.Process(target=work, args=(idx, wr), daemon=True)
        p.start()
        wr.close()
        procs.append((p, rd))
    results: list = [None] * len(jobs)
    for p, rd in procs:
        got = pickle.loads(rd.recv_bytes())
        p.join()
        if isinstance(got, BaseException):
            raise got
        for i, r in got:
            results[i] = r
    return results


# ---------------------------------------------------------------------------------------
# cohorts
# ---------------------------------------------------------------------------------------

def _split_cells(n_tumour: int, rng: np.random.Generator, kinds: list[str], minimum: int = 5) -> dict[str, int]:
    w = rng.dirichlet(np.full(len(kinds), 3.0))
    n = np.maximum(minimum, np.floor(w * n_tumour)).astype(int)
    while n.sum() > n_tumour and n.max() > minimum:
        n[np.argmax(n)] -= 1
    n[np.argmax(w)] += max(0, n_tumour - n.sum())
    return dict(zip(kinds, map(int, n)))


def design(seed: int, n_cells: int = 60, *, bin_size: int = 500_000, controls: int = 0, hexaploid: bool = False,
           normal_fraction: tuple[float, float] = (0.05, 0.15), clones: int = 1,
           lorenz_y: float | tuple[float, float] = (0.38, 0.45)) -> tuple[list[dict], dict]:
    """The CNAsim runs of one cohort (deterministic in ``seed``) and the cohort-level draws."""
    rng = np.random.default_rng([seed, 0xC5A])
    if bin_size % REGION and REGION % bin_size:
        raise ValueError(f"bin size {bin_size} must be a multiple or divisor of CNAsim's region length {REGION}")
    region = min(REGION, bin_size)
    n_normal = int(round(n_cells * rng.uniform(*normal_fraction)))
    kinds = ["2n", "3n", "4n"]
    per = _split_cells(n_cells - n_normal, rng, kinds)
    lo, hi = (lorenz_y, lorenz_y) if np.isscalar(lorenz_y) else lorenz_y
    lorenz_y = float(np.round(rng.uniform(lo, hi), 3))
    base = ["-m", "1", "-U", "-k", region, "-B", bin_size, "-C", COVERAGE, "-X", 0.5, "-Y", lorenz_y]
    jobs = []
    if n_normal + controls > 0:
        jobs.append(dict(lineage="normal", flags=base + ["-n", n_normal + controls, "-n1", 1.0], target=None,
                         cost=2.0 * (n_normal + controls)))
    for i, kind in enumerate(kinds):
        n = per[kind]
        flags = base + ["-n", n, "-c", int(min(clones, max(1, n // 6))), "-v", "-p1", int(rng.integers(1, 4))]
        if kind in ("3n", "4n"):
            flags += ["-w"]
        if kind == "3n":
            flags += THREE_N
        jobs.append(dict(lineage=kind, flags=flags, target=int(kind[0]), double_clone=hexaploid and kind == "3n",
                         cost=(2.0 + int(kind[0])) * n))
    for j, job in enumerate(jobs):
        job["seed"] = int(np.random.SeedSequence([seed, 7 + j]).generate_state(1)[0])
    return jobs, dict(n_normal=n_normal, lorenz_y=lorenz_y, region=region)


def _gc_factor(gc: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    x = np.nan_to_num(gc, nan=0.42) - 0.42
    b1, b2 = rng.normal(0, 3 * strength), rng.normal(0, 30 * strength)
    f = np.exp(b1 * x + b2 * x * x)
    return f / f.max()


def _modal(cn: np.ndarray, w: np.ndarray) -> np.ndarray:
    out = np.empty(len(cn))
    for i, row in enumerate(cn):
        out[i] = np.argmax(np.bincount(row.astype(np.int64), weights=w))
    return out


def make_cohort(seed: int, *, split: str, n_cells: int = 60, bin_size: int = 500_000, build: str = "hg38",
                controls: int = 0, hexaploid: bool = False, reads: tuple[float, float] | None = (3e5, 4e6),
                gc_bias: float = 0.0, clones: int = 1, lorenz_y: float | tuple[float, float] = (0.38, 0.45),
                workers: int = 2, keep: str | os.PathLike | None = None) -> Cohort:
    """One cohort from CNAsim runs drawn with ``seed`` (see the module docstring)."""
    from ctcscope.genome import load_genome

    t0, c0, k0 = time.perf_counter(), time.process_time(), os.times()
    jobs, info = design(seed, n_cells, bin_size=bin_size, controls=controls, hexaploid=hexaploid, clones=clones,
                        lorenz_y=lorenz_y)
    runs = _run_jobs([{**{k: j[k] for k in ("flags", "seed", "target", "cost")},
                       "double_clone": j.get("double_clone", False),
                       "keep": None if keep is None else Path(keep) / j["lineage"]} for j in jobs], workers)

    g = load_genome(build, bin_size)
    var = g.to_var()
    key = var.chrom.astype(str) + ":" + var.start.astype(str) + "-" + var.end.astype(str)
    ref = runs[0]["bins"]
    ref_key = ref.chrom.str.removeprefix("chr") + ":" + ref.start.astype(str) + "-" + ref.end.astype(str)
    pos = pd.Series(np.arange(len(ref)), index=ref_key.to_numpy())
    keep_var = key.isin(pos.index).to_numpy()
    var = var[keep_var]
    col = pos.loc[key[keep_var]].to_numpy()

    rng = np.random.default_rng([seed, 0xBEEF])
    jobs_index = {j["lineage"]: k for k, j in enumerate(jobs)}
    rows, cn_rows, count_rows = [], [], []
    n_normal = info["n_normal"]
    for job, run in zip(jobs, runs):
        if not run["bins"].equals(ref):
            raise RuntimeError("CNAsim runs of one cohort disagree on bins")
        lin = job["lineage"]
        for i, cell in enumerate(run["cells"]):
            ctype = str(run["cell_type"][i])
            if lin == "normal":
                st, normal, clone = ("ctc", True, "normal") if i < n_normal else ("wbc", True, "wbc")
            else:
                st, normal = "ctc", ctype == "normal"
                clone = f"{lin}:{ctype.removesuffix('_founder')}" if ctype.startswith("clone") else f"{lin}:trunk"
            n_wgd = 0 if (lin == "normal" or normal) else int(run["wgd"]) + int(cell in run["doubled"])
            rows.append(dict(lineage=lin, cnasim_cell=cell, sample_type=st, normal_cell=normal, clone=clone,
                             n_wgd=n_wgd, cnasim_reads=int(run["counts"][i].sum())))
            cn_rows.append(run["cn"][i, col])
            count_rows.append(run["counts"][i, col])
    cn = np.vstack(cn_rows).astype(np.float64)
    counts = np.vstack(count_rows).astype(np.int64)
    tab = pd.DataFrame(rows)

    # per-cell depth (binomial thinning) and optional GC effect; each cell draws from its own
    # stream (keyed by lineage and CNAsim cell name), so one cell's draws do not move another's
    for i, r in enumerate(tab.itertuples()):
        crng = np.random.default_rng([seed, 0xBEEF, jobs_index[r.lineage], int(r.cnasim_cell.removeprefix("cell"))])
        f = _gc_factor(var.gc.to_numpy(), crng, gc_bias) if gc_bias > 0 else np.ones(counts.shape[1])
        target = np.exp(crng.uniform(np.log(reads[0]), np.log(reads[1]))) if reads is not None else None
        expect = float((counts[i] * f).sum())
        p = f * (min(1.0, target / expect) if target is not None and expect > 0 else 1.0)
        if np.any(p < 1):
            counts[i] = crng.binomial(counts[i], np.clip(p, 0, 1))

    order = rng.permutation(len(tab))
    tab, cn, counts = tab.iloc[order].reset_index(drop=True), cn[order], counts[order]
    names = [f"cnasim{seed}_{r.lineage}_{r.cnasim_cell}" for r in tab.itertuples()]
    tab.index = names

    use = var.use.to_numpy() & var.chrom.isin([str(c) for c in range(1, 23)]).to_numpy()
    w = (var.end - var.start).to_numpy(np.float64) * use
    ploidy = _modal(cn, w)
    truth = pd.DataFrame({
        "ploidy": ploidy,
        "wgd": (tab.n_wgd > 0).astype(float).to_numpy(),
        "wgd_rule": (ploidy >= 4).astype(float),
        "n_wgd": tab.n_wgd.to_numpy(),
        "score": True,
        "mean_cn": (cn * w).sum(1) / w.sum(),
        "clone": tab.clone.to_numpy(),
        "lineage": tab.lineage.to_numpy(),
        "normal_cell": tab.normal_cell.to_numpy(),
        "cnasim_cell": tab.cnasim_cell.to_numpy(),
        "cnasim_reads": tab.cnasim_reads.to_numpy(),
        "reads": counts.sum(1),
    }, index=names)
    obs = pd.DataFrame({"sample_type": tab.sample_type.to_numpy(), "patient": f"cnasim{seed}", "pool_size": 1},
                       index=names)
    import CNAsim

    version = getattr(CNAsim, "__version__", None) or _cnasim_version()
    adata = ad.AnnData(obs=obs, var=var, layers={"counts": counts.astype(np.int32)})
    adata.uns["cnasim"] = {
        "version": version, "build": build, "bin_size": bin_size, "lorenz_y": info["lorenz_y"],
        "region_length": info["region"], "seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(time.process_time() - c0 + sum(os.times()[2:4]) - sum(k0[2:4]), 1),
        "runs": {j["lineage"]: {"flags": " ".join(map(str, j["flags"])), "cnasim_seed": r["cnasim_seed"],
                                "founder_draws": r["attempts"]} for j, r in zip(jobs, runs)},
        "autosomal_bins_dropped": int((~keep_var & g.bins.chrom.isin([str(c) for c in range(1, 23)]).to_numpy()).sum()),
    }
    note = ("CNAsim %s runs (normal, 2n, 3n = WGD then losses, 4n = WGD%s), mode-1 read counts (Lorenz y=%.2f) "
            "thinned to %s reads per cell%s; wgd = CNAsim's doubling record (run had -w%s), wgd_rule = ploidy >= 4; "
            "ploidy = modal CN over usable autosomal bins; bins are ctcscope %s %d kb autosomal bins shared with "
            "CNAsim's hg19-length genome." % (
                version, ", hexaploid extension: second doubling of a clone of the 3n lineage" if hexaploid else "",
                info["lorenz_y"], "CNAsim's own" if reads is None else f"{reads[0]:.0e}-{reads[1]:.0e}",
                f", GC bias {gc_bias}" if gc_bias else "", " or the hexaploid extension" if hexaploid else "",
                build, bin_size // 1000))
    return Cohort(source=SOURCE, name=f"cnasim-{seed}", split=split, adata=adata, truth=truth, cn=cn, note=note)


def _cnasim_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cnasim")
    except PackageNotFoundError:
        return "unknown"


def cohorts(seeds: Iterable[int], *, split: str, n_cells: int = 60, bin_size: int = 500_000, build: str = "hg38",
            **options) -> Iterator[Cohort]:
    """One :class:`Cohort` per seed (deterministic per seed), from CNAsim runs.

    Options (see the module docstring): ``controls`` (leukocyte-like controls, default 0),
    ``hexaploid`` (default False), ``reads`` ((low, high) reads per cell, log-uniform; None
    keeps CNAsim's counts), ``gc_bias`` (default 0), ``clones`` (CNAsim ``-c`` per lineage,
    default 1), ``workers`` (processes for the CNAsim runs, default 2), ``keep`` (directory
    to keep CNAsim's outputs in, one sub-directory per lineage).
    """
    for seed in seeds:
        opts = dict(options)
        if opts.get("keep") is not None:
            opts["keep"] = Path(opts["keep"]) / f"seed{seed}"
        yield make_cohort(int(seed), split=split, n_cells=n_cells, bin_size=bin_size, build=build, **opts)


#: Seeds of benchmarks/validate_ploidy.py: (seed, options) per split.  Tuning 1-5, held out
#: 101-110; every fifth cohort has hexaploid cells (a doubled 3n clone), one in each split has
#: four leukocyte-like controls, one a GC bias on top of CNAsim's read model.
SPLIT_SEEDS = {
    "tune": [(1, {}), (2, {}), (3, {"gc_bias": 0.3}), (4, {"controls": 4}), (5, {"hexaploid": True})],
    "holdout": [(101, {}), (102, {}), (103, {"gc_bias": 0.3}), (104, {"controls": 4}), (105, {"hexaploid": True}),
                (106, {}), (107, {}), (108, {}), (109, {"hexaploid": True}), (110, {})],
}


def cohorts_for_split(split: str, *, quick: bool = False) -> Iterator[Cohort]:
    """The cohorts of one split for benchmarks/validate_ploidy.py (see :data:`SPLIT_SEEDS`)."""
    plan = SPLIT_SEEDS[split][:1] if quick else SPLIT_SEEDS[split]
    for seed, opts in plan:
        yield from cohorts([seed], split=split, **opts)


# ---------------------------------------------------------------------------------------
# __main__: the cohorts' mix and today's engine on them
# ---------------------------------------------------------------------------------------

def _seeds(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1-3")
    ap.add_argument("--cells", type=int, default=60)
    ap.add_argument("--controls", type=int, default=0)
    ap.add_argument("--hexaploid", action="store_true")
    ap.add_argument("--gc-bias", type=float, default=0.0)
    ap.add_argument("--lorenz-y", default="0.38,0.45", help="CNAsim -Y per cohort: a value or LOW,HIGH")
    ap.add_argument("--build", default="hg38")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-engine", action="store_true", help="only generate and describe the cohorts")
    ap.add_argument("--keep", default=None, help="keep CNAsim's outputs under this directory")
    ap.add_argument("--rows", default=None, help="write the per-cell table (truth and calls) to this TSV")
    a = ap.parse_args(argv)
    import warnings

    warnings.filterwarnings("ignore")
    allrows = []
    for seed in _seeds(a.seeds):
        t0 = time.perf_counter()
        c = make_cohort(seed, split="tune" if seed < 100 else "holdout", n_cells=a.cells, build=a.build,
                        controls=a.controls, hexaploid=a.hexaploid, gc_bias=a.gc_bias, workers=a.workers, keep=a.keep,
                        lorenz_y=tuple(float(v) for v in a.lorenz_y.split(",")) if "," in a.lorenz_y
                        else float(a.lorenz_y))
        gen = time.perf_counter() - t0
        t = c.truth.join(c.adata.obs[["sample_type"]])
        print(f"\n== {c.name} ({c.split}): {c.adata.n_obs} cells x {c.adata.n_vars} bins, generated in {gen:.1f} s"
              f" (CPU {c.adata.uns['cnasim']['cpu_seconds']:.1f} s over {a.workers} worker(s))"
              f"; X, Y and {c.adata.uns['cnasim']['autosomal_bins_dropped']} autosomal bins not in CNAsim dropped")
        for lin, r in c.adata.uns["cnasim"]["runs"].items():
            print(f"   {lin:6s} founder draws {r['founder_draws']:2d}  cnasim {r['flags']}")
        print("   true ploidy x doubling record:",
              t.groupby(["ploidy", "n_wgd"]).size().rename("n").reset_index().to_dict("records"))
        print("   clones:", t.clone.value_counts().to_dict())
        print(f"   reads per cell: median {t.reads.median() / 1e6:.2f} M (range {t.reads.min() / 1e6:.2f}-"
              f"{t.reads.max() / 1e6:.2f} M); mean CN range {t.mean_cn.min():.2f}-{t.mean_cn.max():.2f}")
        if a.no_engine:
            continue
        from ctcscope.cna import call_copy_number

        t0 = time.perf_counter()
        out = call_copy_number(c.adata, workers=2, quiet=True)
        sc = t[t.score].assign(call=out.obs.ploidy.loc[t.index[t.score]].to_numpy(),
                               wgd_call=out.obs.wgd.loc[t.index[t.score]].astype(float).to_numpy(),
                               normal_like=out.obs.normal_like.loc[t.index[t.score]].to_numpy(), seed=seed)
        print(f"   engine ({time.perf_counter() - t0:.1f} s): ploidy right {(sc.call == sc.ploidy).mean():.3f} "
              f"(n={len(sc)}); by true ploidy: " + ", ".join(
                  f"{int(k)}n {(x.call == x.ploidy).mean():.2f} (n={len(x)})" for k, x in sc.groupby("ploidy")))
        allrows.append(sc)
    if allrows:
        d = pd.concat(allrows)
        print(f"\n== all: ploidy right {(d.call == d.ploidy).mean():.3f} (n={len(d)})")
        for k, x in d.groupby("ploidy"):
            calls = x.call.value_counts().sort_index().to_dict()
            print(f"   true {int(k)}n: right {(x.call == x.ploidy).mean():.2f} (n={len(x)}); calls {calls}")
        tum = d[~d.normal_cell]
        for col in ("wgd", "wgd_rule"):
            tp = int(((tum.wgd_call == 1) & (tum[col] == 1)).sum())
            fp = int(((tum.wgd_call == 1) & (tum[col] == 0)).sum())
            fn = int(((tum.wgd_call == 0) & (tum[col] == 1)).sum())
            f1 = 2 * tp / max(1, 2 * tp + fp + fn)
            print(f"   WGD vs {col:8s} (tumour cells): F1 {f1:.3f} (TP {tp}, FP {fp}, FN {fn})")
        nc = d[d.normal_cell & (d.sample_type == "ctc")]
        print(f"   CNAsim normal cells called 2n: {(nc.call == 2).mean():.2f} (n={len(nc)}), "
              f"flagged normal-like: {nc.normal_like.mean():.2f}")
        if a.rows:
            d.to_csv(a.rows, sep="\t")


if __name__ == "__main__":
    main()
