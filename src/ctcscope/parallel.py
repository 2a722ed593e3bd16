"""One executor for all per-sample work: a local process pool, or a Dask cluster.

Per-sample steps (counting a BAM, correcting, segmenting, calling one cell) are pure
functions of their inputs, so they can run anywhere.  ``map_samples`` keeps the input
order, so results do not depend on where or in what order the work ran.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterable, Sequence

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .errors import CtcscopeError


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _progress(quiet: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    disable=quiet, transient=False)


def map_samples(
    func: Callable[..., Any],
    items: Sequence[Any],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    description: str = "samples",
    quiet: bool = False,
    **kwargs: Any,
) -> list[Any]:
    """Return ``[func(item, **kwargs) for item in items]``, computed in parallel.

    ``scheduler``: ``None`` for a local process pool of ``workers`` processes (1 = run in
    this process), or a Dask scheduler address (``tcp://host:8786``) or a
    ``distributed.Client``/``LocalCluster`` object.
    """
    items = list(items)
    if not items:
        return []
    if scheduler is not None:
        return _map_dask(func, items, scheduler, description, quiet, kwargs)
    workers = default_workers() if workers is None else max(1, int(workers))
    results: list[Any] = [None] * len(items)
    with _progress(quiet) as bar:
        task = bar.add_task(description, total=len(items))
        if workers == 1 or len(items) == 1:
            for i, it in enumerate(items):
                results[i] = func(it, **kwargs)
                bar.advance(task)
            return results
        with ProcessPoolExecutor(max_workers=min(workers, len(items))) as pool:
            futs = {pool.submit(func, it, **kwargs): i for i, it in enumerate(items)}
            try:
                for f in as_completed(futs):
                    results[futs[f]] = f.result()
                    bar.advance(task)
            except BaseException:
                for f in futs:
                    f.cancel()
                raise
    return results


def _map_dask(func, items, scheduler, description, quiet, kwargs):
    try:
        from distributed import Client, progress  # noqa: F401
    except ImportError as e:  # pragma: no cover - distributed is a dependency
        raise CtcscopeError("a Dask scheduler was given but 'distributed' is not installed; pip install distributed") from e
    own = False
    if isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as e:
            raise CtcscopeError(
                f"cannot reach the Dask scheduler at {scheduler}; check the address or drop --scheduler to run locally"
            ) from e
        own = True
    elif hasattr(scheduler, "submit"):
        client = scheduler
    else:
        client = Client(scheduler)
        own = True
    try:
        futs = [client.submit(func, it, pure=False, **kwargs) for it in items]
        results: list[Any] = [None] * len(items)
        index = {f.key: i for i, f in enumerate(futs)}
        from distributed import as_completed as d_as_completed

        with _progress(quiet) as bar:
            task = bar.add_task(description + " (dask)", total=len(items))
            for f in d_as_completed(futs):
                results[index[f.key]] = f.result()
                bar.advance(task)
        return results
    finally:
        if own:
            client.close()


def chunked(seq: Iterable[Any], size: int) -> Iterable[list[Any]]:
    buf: list[Any] = []
    for x in seq:
        buf.append(x)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf
